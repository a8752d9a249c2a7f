"""Throughput of the ``detector`` model (a ResNet-50-shaped random classifier) beside the ``fakevlm`` adapter.

The same 64 random 256 x 256 images and the detection question go to both, through their
``generate_until`` (decode, preprocess, forward, answer): the detector at batch 1 and 32;
``fakevlm`` on the tiny random LLaVA (fakevlm_toys.tiny_llava) at batch 1 and 32 with the
protocol's 256 new tokens. The tiny LLaVA is far smaller than FakeVLM's 7B, so its figure is
an upper bound for the adapter's plumbing, not FakeVLM's speed. The images run in
interleaved rounds, every approach on the same slice in turn, so that load from other
processes falls on all of them alike. Run: ``python benchmarks/detector_bench.py``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

N_IMAGES = 64
SIDE = 256
TASK = "bench"


def make_docs():
    import torch
    from PIL import Image

    from fakevlm_tasks.glue.prepared import FAKECLUE_QUESTION

    gen = torch.Generator().manual_seed(0)
    return [
        {"id": i, "question": FAKECLUE_QUESTION,
         "image": Image.fromarray((torch.rand(SIDE, SIDE, 3, generator=gen) * 255).to(torch.uint8).numpy())}
        for i in range(N_IMAGES)
    ]


def requests(indices, max_new_tokens: int):
    from lmms_eval.api.instance import Instance

    gen_kwargs = {"max_new_tokens": max_new_tokens, "until": []}
    return [
        Instance("generate_until", ("Does the image looks real/fake?", gen_kwargs, lambda d: [d["image"]], i, TASK, "test"),
                 idx=0, metadata={"task": TASK, "doc_id": i, "repeats": 1})
        for i in indices
    ]


def runner(model, docs, max_new_tokens: int):
    model.task_dict = {TASK: {"test": docs}}
    return lambda indices: [r.text for r in model.generate_until(requests(indices, max_new_tokens))]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-new-tokens", type=int, default=256, help="fakevlm's new tokens per answer (the protocol's 256)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for every approach (1: steadiest on a shared machine)")
    parser.add_argument("--rounds", type=int, default=2, help="the images are run in this many interleaved rounds")
    args = parser.parse_args(argv)

    import torch
    from loguru import logger

    from fakevlm_model.detector import Detector
    from fakevlm_model.fakevlm import FakeVLM
    from fakevlm_toys.tiny_detectors import build_tiny_detector
    from fakevlm_toys.tiny_llava import build_tiny_llava

    torch.set_num_threads(args.threads)
    logger.remove()  # the adapters' info lines would interleave with the table
    logger.add(lambda m: print(m, end=""), level="WARNING")
    docs = make_docs()
    with tempfile.TemporaryDirectory() as tmp:
        resnet = build_tiny_detector(Path(tmp) / "resnet50", backbone="torchvision:resnet50", image_size=224)
        llava = build_tiny_llava(Path(tmp) / "llava")
        approaches = [  # name, batch size, runner: indices -> answers
            *(("detector, ResNet-50 at 224 px", b, runner(Detector(pretrained=str(resnet), device="cpu", batch_size=b), docs, args.max_new_tokens))
              for b in (1, 32)),
            *(("fakevlm, tiny LLaVA", b, runner(FakeVLM(pretrained=str(llava), device="cpu", batch_size=b), docs, args.max_new_tokens))
              for b in (1, 32)),
        ]
        for _, _, run in approaches:  # warm-up: first calls allocate and pick kernels
            run([0])
        seconds = [0.0] * len(approaches)
        answered = [0] * len(approaches)
        per_round = -(-N_IMAGES // args.rounds)
        for start in range(0, N_IMAGES, per_round):
            indices = list(range(start, min(start + per_round, N_IMAGES)))
            for k, (_, _, run) in enumerate(approaches):
                began = time.perf_counter()
                answered[k] += sum(bool(a.strip()) for a in run(indices))
                seconds[k] += time.perf_counter() - began

    print(f"\n{N_IMAGES} images of {SIDE} x {SIDE}, CPU, {torch.get_num_threads()} thread(s), {args.rounds} interleaved rounds; "
          f"fakevlm: greedy, up to {args.max_new_tokens} new tokens")
    print(f"{'model':32} {'batch':>5} {'seconds':>8} {'images/s':>9}  answered")
    for (name, batch, _), secs, n in zip(approaches, seconds, answered):
        print(f"{name:32} {batch:>5} {secs:>8.2f} {N_IMAGES / secs:>9.2f}  {n}/{N_IMAGES}")


if __name__ == "__main__":
    main()
