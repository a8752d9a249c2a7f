"""Console progress (loss, learning rate, samples/s, tokens/s, ETA, memory) and the recipe's
config saved into every checkpoint, as Trainer callbacks."""

from __future__ import annotations

import logging
import resource
import sys
import time
from datetime import timedelta
from pathlib import Path

import torch
from transformers import TrainerCallback

log = logging.getLogger("fakevlm_training")

RECIPE_CONFIG_NAME = "fakevlm_recipe.yaml"


def peak_memory_gib() -> tuple[str, float]:
    if torch.cuda.is_available():
        return "gpu", torch.cuda.max_memory_allocated() / 2**30
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is KiB on Linux, bytes on macOS.
    return "rss", rss / (2**30 if sys.platform == "darwin" else 2**20)


class ProgressLogger(TrainerCallback):
    """One line per logging step, computed from the Trainer's own counters since this session began."""

    def __init__(self, samples_per_step: int):
        self.samples_per_step = samples_per_step
        self._t0 = self._step0 = self._tokens0 = None

    def on_train_begin(self, args, state, control, **kwargs):
        self._t0, self._step0, self._tokens0 = time.monotonic(), state.global_step, state.num_input_tokens_seen

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or "loss" not in logs:
            return
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        steps = state.global_step - self._step0
        samples_s = steps * self.samples_per_step / elapsed
        tokens_s = (state.num_input_tokens_seen - self._tokens0) / elapsed
        eta = (state.max_steps - state.global_step) * elapsed / steps if steps else float("nan")
        kind, mem = peak_memory_gib()
        log.info(
            "step %d/%d | epoch %.2f | loss %.4f | lr %.3e | %.2f samples/s | %.0f tokens/s | ETA %s | peak %s %.2f GiB",
            state.global_step, state.max_steps, state.epoch or 0.0, logs["loss"], logs.get("learning_rate", 0.0),
            samples_s, tokens_s, timedelta(seconds=round(eta)) if steps else "?", kind, mem,
        )


class SaveRecipeConfig(TrainerCallback):
    """Write the resolved recipe config beside each checkpoint, so a resume can say what changed."""

    def __init__(self, config_yaml: str):
        self.config_yaml = config_yaml

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                (folder / RECIPE_CONFIG_NAME).write_text(self.config_yaml)
