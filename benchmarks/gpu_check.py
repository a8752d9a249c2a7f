"""GPU readiness: the ``fakevlm`` adapter on a random LLaVA-1.5-7B, beside lmms-eval's ``llava_hf`` and the official loop.

Builds a randomly initialised LLaVA with llava-hf/llava-1.5-7b-hf's shapes (nothing is
downloaded; the tokenizer is the tiny byte-level BPE of the project's tiny-model builder,
padded with filler tokens to the model's 32,064 words so that every generated id decodes),
and on the GPU it finds runs FakeClue's prompt (raw ``<image>Does the image looks
real/fake?``, 576 image tokens) with 256 greedy new tokens in bfloat16:

- ``fakevlm`` at batch 1, 8, 16, 32 and 64 (each on 2 batches' worth of images, at least 4),
  driven with lmms-eval ``Instance`` requests: images/s, peak memory, and the parity figure:
  how many answers equal batch 1's on the images both ran, and the previous batch size's;
- lmms-eval's ``llava_hf`` at batch 1 (its chat path, the training template as chat template);
- a loop like the official script: batches of 16, every prompt padded to 1,024 tokens;
- the out-of-memory path: ``fakevlm`` given a batch about twice what the free memory holds,
  which must halve its way down and still answer every image;
- vLLM (``backend=vllm``) on the batch-64 images, if vLLM is installed.

It prints a table with each row's share of the compute limit: the GPU's dense bf16 peak over
the FLOPs of one image (training/README.md's arithmetic, ``fakevlm_training.budget``: 2 FLOPs per
weight per token plus attention, over 576 image + prompt + 256 answer tokens), and the decode
bound at that batch (every new token reads all weights once). With random weights greedy
decoding meets near-ties that trained weights rarely have, so the parity figure is a lower bound.
``--tiny`` runs the same code on the CPU with the tiny model's shapes in float32 and 32 new tokens
(the test suite does). Run: ``python benchmarks/gpu_check.py [--tiny] [--workdir DIR]``; meant to
finish within 8 minutes on one H100/H200 (``--budget-s`` guards the last two steps), not yet run
on a GPU by this project.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from adapter_bench import TASK, requests  # the sibling benchmark's lmms-eval requests

QUESTION = "Does the image looks real/fake?"  # FakeClue's prompt, raw, as the official evaluation sends it
BATCH_SIZES = (1, 8, 16, 32, 64)
#: Dense bf16 peak FLOP/s and memory bandwidth (bytes/s) by device name, from NVIDIA's data sheets.
GPU_PEAKS = {
    "H200": (989e12, 4.8e12),
    "H100 PCIe": (756e12, 2.0e12),
    "H100": (989e12, 3.35e12),  # SXM
    "A100-SXM4-80GB": (312e12, 2.04e12),
    "A100": (312e12, 1.555e12),
    "L40S": (362e12, 0.864e12),
}


@dataclass
class Row:
    name: str
    batch: int
    answers: list[str] = field(default_factory=list)
    seconds: float | None = None
    peak_bytes: int | None = None
    note: str = ""

    @property
    def images_per_s(self) -> float | None:
        return len(self.answers) / self.seconds if self.seconds else None


# ------------------------------------------------------------------------------ model


def tiny_builder():
    try:
        from fakevlm_toys.tiny_llava import build_tiny_llava
    except ImportError:  # the builder's older home
        from fakevlm_model.tiny import build_tiny_llava
    return build_tiny_llava


def build_checkpoint(out: Path, *, tiny: bool, device, dtype) -> Path:
    """A random LLaVA (7B shapes, or the tiny builder's with ``tiny``) + processor, saved to ``out``."""
    import torch
    from transformers import (
        AutoConfig,
        AutoProcessor,
        CLIPImageProcessor,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tiny_dir = tiny_builder()(out.parent / "tiny-tokenizer")
    source = AutoProcessor.from_pretrained(tiny_dir)
    tokenizer = source.tokenizer
    if tiny:
        config = AutoConfig.from_pretrained(tiny_dir)
    else:
        from fakevlm_training.budget import llava_1_5_7b_config

        config = llava_1_5_7b_config()
    # Every id the model can emit must decode: fill the tokenizer up to the model's vocabulary.
    tokenizer.add_tokens([f"<w{i}>" for i in range(len(tokenizer), config.text_config.vocab_size)])
    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in
           (("bos", tokenizer.bos_token), ("eos", tokenizer.eos_token), ("pad", tokenizer.pad_token), ("image", "<image>"))}
    config.image_token_index = ids["image"]
    config.text_config.bos_token_id, config.text_config.eos_token_id, config.text_config.pad_token_id = ids["bos"], ids["eos"], ids["pad"]

    torch.manual_seed(0)
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):  # initialised where it runs: seconds for 7B on a GPU
            model = LlavaForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(default_dtype)
    generation = model.generation_config
    generation.bos_token_id, generation.eos_token_id, generation.pad_token_id = ids["bos"], ids["eos"], ids["pad"]
    model.save_pretrained(out)
    del model
    vision = config.vision_config
    LlavaProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": vision.image_size},
                                           crop_size={"height": vision.image_size, "width": vision.image_size}),
        tokenizer=tokenizer, patch_size=vision.patch_size, vision_feature_select_strategy="default",
        num_additional_image_tokens=1, chat_template=source.chat_template,
    ).save_pretrained(out)
    return out


def workload(n: int, size: int):
    """``n`` deterministic noise images of FakeClue-like sizes (``size`` px and a little more), one question."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    docs = []
    for i in range(n):
        side = size + (i * 37) % (size // 2 + 1)
        pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        docs.append({"id": f"img-{i}", "image": Image.fromarray(pixels), "question": QUESTION})
    return docs


# ------------------------------------------------------------------------------ runners


class Meter:
    """Wall time and peak memory of what runs inside it: CUDA's peak allocation, or the process's max RSS on CPU."""

    def __init__(self, device) -> None:
        self.device = device

    def __enter__(self):
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self.began = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self.peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.seconds = time.perf_counter() - self.began


def free_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_adapter(row: Row, model, docs, indices, new_tokens: int, device) -> Row:
    """Warm up on one image, then time ``generate_until`` over ``indices``."""
    model.task_dict = {TASK: {"test": docs}}
    model.generate_until(requests(docs, indices[:1], 4))
    with Meter(device) as meter:
        results = model.generate_until(requests(docs, indices, new_tokens))
    row.answers = [str(getattr(r, "text", r)).strip() for r in results]
    row.seconds, row.peak_bytes = meter.seconds, meter.peak
    return row


def fakevlm(path: Path, batch: int, device, **kwargs):
    from fakevlm_model.fakevlm import FakeVLM

    return FakeVLM(pretrained=str(path), device=device.type, batch_size=batch, **kwargs)


def llava_hf(path: Path, device, dtype_name: str):
    from lmms_eval.models.simple.llava_hf import LlavaHf

    from fakevlm_model.prompts import TRAIN_CHAT_TEMPLATE

    return LlavaHf(pretrained=str(path), device=device.type, device_map=str(device), dtype=dtype_name,
                   batch_size=1, chat_template=TRAIN_CHAT_TEMPLATE)


def official_loop(row: Row, path: Path, docs, indices, new_tokens: int, device, dtype, pad_to: int = 1024) -> Row:
    """The official script's shape: batches of ``row.batch``, every prompt padded to ``pad_to`` tokens,
    the whole sequence decoded and the text after the prompt's last "?" kept."""
    import torch
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    processor = AutoProcessor.from_pretrained(path)
    processor.tokenizer.padding_side = "left"
    model = LlavaForConditionalGeneration.from_pretrained(path, dtype=dtype).to(device).eval()

    def generate(chunk, tokens):
        inputs = processor(images=[docs[i]["image"] for i in chunk], text=["<image>" + docs[i]["question"] for i in chunk],
                           return_tensors="pt", padding="max_length", max_length=pad_to).to(device, dtype=dtype)
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=tokens, do_sample=False)
        return [t.split("?")[-1].strip() for t in processor.tokenizer.batch_decode(out, skip_special_tokens=True)]

    generate(indices[:1], 4)
    with Meter(device) as meter:
        for start in range(0, len(indices), row.batch):
            row.answers.extend(generate(indices[start : start + row.batch], new_tokens))
    row.seconds, row.peak_bytes = meter.seconds, meter.peak
    return row


def oom_batch(config, prompt_tokens: int, new_tokens: int) -> int:
    """A batch about twice what the free GPU memory holds: the KV cache alone (keys and values, every
    layer, prompt + answer tokens) of that many samples exceeds it two-fold."""
    import torch

    text = config.text_config
    kv_per_sample = 2 * text.num_hidden_layers * text.hidden_size * 2 * (prompt_tokens + new_tokens)
    free, _ = torch.cuda.mem_get_info()
    return 1 << (2 * free // kv_per_sample).bit_length()


def oom_path(path: Path, docs_for, config, prompt_tokens: int, device) -> Row:
    """``fakevlm`` on a batch too large for the card (8 new tokens: the prefill is what overflows)."""
    from loguru import logger

    batch = oom_batch(config, prompt_tokens, 8)
    row = Row("fakevlm, batch too large for the card", batch)
    docs = docs_for(batch)
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(str(m)), level="WARNING", filter=lambda r: "out of memory" in r["message"])
    try:
        run_adapter(row, fakevlm(path, batch, device), docs, list(range(batch)), 8, device)
    finally:
        logger.remove(sink)
    answered = sum(bool(a) for a in row.answers)
    row.note = f"{len(warnings)} out-of-memory retries, {answered}/{batch} answered"
    return row


# ------------------------------------------------------------------------------ arithmetic


def flops_per_image(config, prompt_tokens: int, new_tokens: int) -> float:
    """Forward FLOPs of one image's prompt and answer, by training/budget.py's arithmetic."""
    from fakevlm_training.budget import Budget, count_parameters

    text, vision = config.text_config, config.vision_config
    n_image = config.image_seq_length
    budget = Budget(
        count_parameters(config), image_tokens=n_image, text_tokens=prompt_tokens - n_image + new_tokens,
        hidden=text.hidden_size, intermediate=text.intermediate_size, layers=text.num_hidden_layers,
        vocab=text.vocab_size, vision_hidden=vision.hidden_size,
        vision_layers_used=vision.num_hidden_layers + 1 + config.vision_feature_layer,
    )
    return budget.flops_per_sample(recompute=False) / 3  # forward + backward (2x) = 3 forwards


def gpu_peaks(device) -> tuple[float, float] | None:
    import torch

    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peaks for key, peaks in GPU_PEAKS.items() if key in name), None)


def same_answers(a: list[str], b: list[str]) -> str:
    n = min(len(a), len(b))
    return f"{sum(x == y for x, y in zip(a[:n], b[:n]))}/{n}"


# ------------------------------------------------------------------------------ main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="the tiny model's shapes on the CPU, float32 (for the tests)")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default 256 (32 with --tiny)")
    parser.add_argument("--workdir", default=None, help="where the random checkpoint is written (default: a temp dir)")
    parser.add_argument("--budget-s", type=float, default=420.0,
                        help="the out-of-memory and vLLM steps are skipped once this many seconds have passed")
    args = parser.parse_args(argv)
    began = time.perf_counter()

    import torch
    from loguru import logger
    from transformers import AutoConfig, AutoProcessor

    logger.remove()  # the adapters' info lines would interleave with the table
    logger.add(sys.stderr, level="WARNING")
    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    dtype, dtype_name = (torch.bfloat16, "bfloat16") if device.type == "cuda" else (torch.float32, "float32")
    new_tokens = args.max_new_tokens or (32 if args.tiny else 256)

    with tempfile.TemporaryDirectory(prefix="gpu-check-", dir=args.workdir) as tmp:
        path = build_checkpoint(Path(tmp) / "model", tiny=args.tiny, device=device, dtype=dtype)
        free_memory()
        built_s = time.perf_counter() - began
        config = AutoConfig.from_pretrained(path)
        image_px = config.vision_config.image_size
        docs_for = functools.partial(workload, size=image_px)
        n_images = {b: max(4, 2 * b) for b in BATCH_SIZES}
        docs = docs_for(max(n_images.values()))
        prompt_tokens = len(AutoProcessor.from_pretrained(path)(images=[docs[0]["image"]], text=["<image>" + QUESTION])["input_ids"][0])

        rows: list[Row] = []
        for b in BATCH_SIZES:
            rows.append(run_adapter(Row("fakevlm", b), fakevlm(path, b, device), docs, list(range(n_images[b])), new_tokens, device))
            free_memory()
        baseline = Row("llava_hf (lmms-eval)", 1, note="(its chat template: another prompt, not compared)")
        rows.append(run_adapter(baseline, llava_hf(path, device, dtype_name), docs, list(range(4)), new_tokens, device))
        free_memory()
        # Two batches of 16 (one with --tiny: padded to 1,024 tokens, the CPU spends most of the check here).
        official = list(range(16 if args.tiny else 32))
        rows.append(official_loop(Row("official loop, pad 1024", 16), path, docs, official, new_tokens, device, dtype))
        free_memory()

        if device.type != "cuda":
            rows.append(Row("fakevlm, batch too large for the card", 0, note="not run: no CUDA device (CPU memory is not a card's)"))
        elif time.perf_counter() - began > args.budget_s:
            rows.append(Row("fakevlm, batch too large for the card", 0, note=f"skipped: past the {args.budget_s:.0f} s budget"))
        else:
            rows.append(oom_path(path, docs_for, config, prompt_tokens, device))
            free_memory()

        import importlib.util

        vllm = Row("fakevlm backend=vllm", 64)
        if importlib.util.find_spec("vllm") is None or device.type != "cuda":
            vllm.note = "not run: vLLM is not installed" if device.type == "cuda" else "not run: vLLM needs a GPU"
        elif time.perf_counter() - began > args.budget_s:
            vllm.note = f"skipped: past the {args.budget_s:.0f} s budget"
        else:
            try:
                run_adapter(vllm, fakevlm(path, 64, device, backend="vllm"), docs, list(range(n_images[64])), new_tokens, device)
            except Exception as exc:  # report it in the table; the other rows stand
                vllm.note = f"failed: {type(exc).__name__}: {str(exc)[:120]}"
        rows.append(vllm)

    shapes = f"{'tiny' if args.tiny else 'LLaVA-1.5-7B'} shapes, random weights, {dtype_name}, checkpoint built in {built_s:.0f} s"
    print_table(rows, config, prompt_tokens, new_tokens, device, shapes, time.perf_counter() - began)
    return 0


def print_table(rows: list[Row], config, prompt_tokens: int, new_tokens: int, device, shapes: str, total_s: float) -> None:
    import torch
    from fakevlm_training.budget import count_parameters

    flops = flops_per_image(config, prompt_tokens, new_tokens)
    peaks = gpu_peaks(device)
    weight_bytes = 2 * count_parameters(config).total  # bf16
    fakevlm_rows = [r for r in rows if r.name == "fakevlm"]
    batch_1 = fakevlm_rows[0].answers
    baseline = next(r for r in rows if r.name.startswith("llava_hf")).images_per_s
    print(f"\n{torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}; {shapes}; {prompt_tokens} prompt "
          f"tokens + {new_tokens} new; {flops / 1e12:.3g} TFLOP per image (forward); whole check {total_s:.0f} s")
    if peaks:
        print(f"compute limit {peaks[0] / flops:.1f} images/s ({peaks[0] / 1e12:.0f} TFLOPS); decode bound at batch b: "
              f"b x {peaks[1] / 1e12:.2f} TB/s / ({new_tokens} tokens x {weight_bytes / 2**30:.1f} GiB of weights)")
    else:
        print("no peak FLOP/s known for this device: the % columns are blank")
    memory = "CUDA peak allocated" if device.type == "cuda" else "process max RSS"
    print(f"{'runner':<38} {'batch':>5} {'images':>6} {'answered':>8} {'seconds':>8} {'images/s':>8} {'vs llava_hf':>11} "
          f"{'% compute':>9} {'% decode':>8} {'GiB':>6}  same answers as batch 1 / as the previous batch  (GiB: {memory})")
    previous = None
    for row in rows:
        speed = row.images_per_s
        head = f"{row.name:<38} {row.batch:>5} {len(row.answers):>6} {sum(bool(a) for a in row.answers):>8}"
        if speed is None:
            print(f"{head}  {row.note}")
            continue
        parity = ""
        if row.name == "fakevlm" and previous is not None:
            parity = f"{same_answers(batch_1, row.answers)} / {same_answers(previous.answers, row.answers)}"
        elif row.name.startswith("official"):  # the official loop keeps the text after the last "?"
            parity = same_answers([a.split("?")[-1].strip() for a in batch_1], row.answers)
        elif "vllm" in row.name:
            parity = same_answers(batch_1, row.answers)
        previous = row if row.name == "fakevlm" else previous
        compute = f"{100 * speed * flops / peaks[0]:8.1f}%" if peaks else " " * 9
        decode = f"{100 * speed * new_tokens * weight_bytes / (row.batch * peaks[1]):7.1f}%" if peaks else " " * 8
        print(f"{head} {row.seconds:8.1f} {speed:8.2f} {speed / baseline:10.2f}x {compute} {decode} "
              f"{row.peak_bytes / 2**30:6.2f}  {parity} {row.note}".rstrip())


if __name__ == "__main__":
    raise SystemExit(main())
