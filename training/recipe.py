"""The FakeVLM training recipe: setup / train / save_checkpoint / cleanup around transformers' Trainer
(which brings DDP, DeepSpeed ZeRO, gradient checkpointing, checkpoints and exact resume)."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import yaml
from accelerate import PartialState
from accelerate.utils import gather_object
from transformers import (
    PreTrainedModel,
    PrinterCallback,
    Trainer,
    TrainingArguments,
)
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from . import data as fdata
from .config import ConfigError, RecipeConfig, differences, dump
from .modeling import count_parameters, load_model, load_processor, merge_lora
from .progress import RECIPE_CONFIG_NAME, ProgressLogger, SaveRecipeConfig

log = logging.getLogger("fakevlm_training")

SKIPPED_RECORDS_FILE = "skipped_records.jsonl"
RUN_SUMMARY_FILE = "run_summary.json"
LORA_ADAPTER_DIR = "lora_adapter"
# How many skipped records are named on the console; all of them go to SKIPPED_RECORDS_FILE.
MAX_SKIPS_ON_CONSOLE = 20


class _CountingTrainer(Trainer):
    """Trainer that counts what this rank trained on (for the run summary) and restores weights correctly."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rank_counts = {"micro_batches": 0, "samples": 0, "tokens": 0}

    def compute_loss(self, model, inputs, *args, **kwargs):
        self.rank_counts["micro_batches"] += 1
        self.rank_counts["samples"] += int(inputs["input_ids"].shape[0])
        self.rank_counts["tokens"] += int(inputs["attention_mask"].sum())
        return super().compute_loss(model, inputs, *args, **kwargs)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        # transformers 5 saves LLaVA in its original key layout, and Trainer's own resume loads that with a
        # non-strict load_state_dict that matches no key, so training silently restarts from the base
        # weights (huggingface/transformers#43701). from_pretrained converts the keys; copy strictly.
        # DeepSpeed resumes from its own global_step* files and does not come here.
        model = model if model is not None else self.model
        if self.is_fsdp_enabled or not isinstance(model, PreTrainedModel):
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        saved = type(model).from_pretrained(resume_from_checkpoint, config=model.config, dtype=model.dtype)
        model.load_state_dict(saved.state_dict(), strict=True)


def latest_complete_checkpoint(output_dir: Path) -> Path | None:
    """The highest-step ``checkpoint-N`` whose trainer state was written (the Trainer writes it last,
    so a run killed while saving leaves a folder without it, which is passed over with a warning)."""
    found = []
    for folder in output_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        step = folder.name.rsplit("-", 1)[-1]
        if not step.isdigit():
            continue
        if (folder / TRAINER_STATE_NAME).is_file():
            found.append((int(step), folder))
        else:
            log.warning("ignoring %s: it has no %s (the run stopped while saving it)", folder, TRAINER_STATE_NAME)
    return max(found)[1] if found else None


class FakeVLMTrainingRecipe:
    """One training run described by a RecipeConfig (see configs/fakevlm_7b.yaml)."""

    def __init__(self, cfg: RecipeConfig):
        self.cfg = cfg
        self.output_dir = Path(cfg.training["output_dir"])
        self.skipped: list[fdata.Skip] = []
        self.n_records = 0
        self.resume_from: Path | None = None

    # -- setup ---------------------------------------------------------------------------------
    def setup(self) -> None:
        # TrainingArguments first: it starts the process group and, under ZeRO-3, must exist
        # before from_pretrained so the weights are partitioned while loading.
        self.args = self._training_arguments()
        self.state = PartialState()
        if self.state.is_main_process:
            log.info("resolved config:\n%s", dump(self.cfg))
        self.processor = load_processor(self.cfg.model)
        self.encoder = fdata.Encoder(
            self.processor, self.cfg.data, kind=self.cfg.method.kind, answer_mode=self.cfg.method.answer
        )
        self.dataset = self._checked_dataset()
        prompt = fdata.prompt_template(self.cfg.data.template, image_token=self.processor.image_token)
        self.model = load_model(self.cfg, prompt=prompt)
        trainable, total = count_parameters(self.model)
        self.resume_from = self._resume_checkpoint()
        world = self.args.world_size
        self.samples_per_step = self.args.per_device_train_batch_size * self.args.gradient_accumulation_steps * world
        if self.state.is_main_process:
            log.info(
                "model: %s trainable of %s parameters (%.2f%%) | %d processes x %d per device x %d accumulation = %d samples/step",
                f"{trainable:,}", f"{total:,}", 100 * trainable / total, world,
                self.args.per_device_train_batch_size, self.args.gradient_accumulation_steps, self.samples_per_step,
            )
        self.trainer = _CountingTrainer(
            model=self.model,
            args=self.args,
            train_dataset=self.dataset,
            data_collator=fdata.Collator(self.processor.tokenizer.pad_token_id),
            processing_class=self.processor,
            callbacks=[ProgressLogger(self.samples_per_step), SaveRecipeConfig(dump(self.cfg))],
        )
        # The progress line replaces the Trainer's printing of raw log dicts (its bar stays if asked for).
        self.trainer.remove_callback(PrinterCallback)

    def _training_arguments(self) -> TrainingArguments:
        values = dict(self.cfg.training)
        values.setdefault("include_num_input_tokens_seen", "non_padding")
        values.setdefault("disable_tqdm", True)
        values.setdefault("report_to", "none")
        values["report_to"] = _available_reporters(values["report_to"])
        values["remove_unused_columns"] = False
        values["label_names"] = ["labels"] if self.cfg.method.kind == "generative" else ["class_labels"]
        try:
            return TrainingArguments(**values)
        except TypeError as exc:
            raise ConfigError(f"training: {exc} (keys are transformers.TrainingArguments fields)") from exc

    def _checked_dataset(self) -> fdata.FakeClueDataset:
        """Check every record once, each process a contiguous share, and gather the results in order."""
        items = fdata.read_records(self.cfg.data.train_json)
        self.n_records = len(items)
        with self.state.split_between_processes(items) as share:
            kept, skipped = fdata.check_records(share, self.encoder, self.cfg.data)
        if self.state.num_processes > 1:
            kept, skipped = gather_object(kept), gather_object(skipped)
        self.skipped = skipped
        self._report_skips()
        return fdata.FakeClueDataset(kept, self.encoder)

    def _report_skips(self) -> None:
        cfg = self.cfg.data
        if self.skipped and cfg.on_bad_record == "error":
            named = "; ".join(f"{s.record_id}: {s.reason}" for s in self.skipped[:MAX_SKIPS_ON_CONSOLE])
            raise ConfigError(
                f"{len(self.skipped)} bad record(s) and data.on_bad_record=error: {named}. "
                "Fix them or set data.on_bad_record=skip."
            )
        if not self.state.is_main_process:
            return
        log.info("data: %s", fdata.summarise_skips(self.skipped, self.n_records))
        for s in self.skipped[:MAX_SKIPS_ON_CONSOLE]:
            log.warning("skipped %s: %s", s.record_id, s.reason)
        if len(self.skipped) > MAX_SKIPS_ON_CONSOLE:
            log.warning("... and %d more", len(self.skipped) - MAX_SKIPS_ON_CONSOLE)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        with open(self.output_dir / SKIPPED_RECORDS_FILE, "w") as f:
            for s in self.skipped:
                f.write(json.dumps({"record": s.record_id, "reason": s.reason}) + "\n")

    def _resume_checkpoint(self) -> Path | None:
        resume = self.cfg.resume
        if resume is None:
            return None
        if resume == "auto":
            found = latest_complete_checkpoint(self.output_dir) if self.output_dir.is_dir() else None
        else:
            found = Path(resume)
            if not (found / TRAINER_STATE_NAME).is_file():
                raise ConfigError(f"resume={resume}: not a complete Trainer checkpoint (no {TRAINER_STATE_NAME})")
        if found is not None and self.state.is_main_process:
            log.info("resuming from %s", found)
            saved = found / RECIPE_CONFIG_NAME
            if saved.is_file():
                changed = differences(yaml.safe_load(saved.read_text()), self.cfg.to_dict())
                for line in changed:
                    log.warning("config differs from the checkpoint's: %s", line)
        return found

    # -- train ---------------------------------------------------------------------------------
    def train(self) -> None:
        start = time.monotonic()
        self.trainer.train(resume_from_checkpoint=str(self.resume_from) if self.resume_from else None)
        self.wall_seconds = time.monotonic() - start

    # -- save ------------------------------------------------------------------------------------
    def save_checkpoint(self) -> Path:
        """Write the final model into output_dir as a plain LLaVA folder (heads: plus their layer)."""
        out = self.output_dir
        if self.cfg.method.lora is None:
            self.trainer.save_model(str(out))
            return out
        adapter = out / LORA_ADAPTER_DIR
        self.trainer.save_model(str(adapter))
        if self.state.is_main_process:
            merge_lora(self.cfg, str(adapter), str(out))
            self.processor.save_pretrained(str(out))
        self.state.wait_for_everyone()
        return out

    # -- cleanup ---------------------------------------------------------------------------------
    def cleanup(self) -> dict:
        """Gather what every rank trained on and write run_summary.json (main process)."""
        counts = dict(self.trainer.rank_counts, rank=self.state.process_index)
        counts["runtime_skips"] = [s.record_id for s in self.dataset.runtime_skips]
        ranks = gather_object([counts]) if self.state.num_processes > 1 else [counts]
        history = [h for h in self.trainer.state.log_history if "loss" in h]
        summary = {
            "method": self.cfg.method.kind,
            "world_size": self.state.num_processes,
            "global_step": self.trainer.state.global_step,
            "max_steps": self.trainer.state.max_steps,
            "epoch": self.trainer.state.epoch,
            "resumed_from": str(self.resume_from) if self.resume_from else None,
            "records": self.n_records,
            "skipped": len(self.skipped),
            "ranks": sorted(ranks, key=lambda r: r["rank"]),
            "losses": [{"step": h["step"], "loss": h["loss"], "learning_rate": h.get("learning_rate")} for h in history],
            "wall_seconds": round(self.wall_seconds, 2),
        }
        if self.state.is_main_process:
            (self.output_dir / RUN_SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
            for r in summary["ranks"]:
                log.info("rank %d/%d trained on %d samples (%d tokens) this session",
                         r["rank"], summary["world_size"], r["samples"], r["tokens"])
        self.state.wait_for_everyone()
        return summary

    def run(self) -> dict:
        self.setup()
        self.train()
        self.save_checkpoint()
        return self.cleanup()


def _available_reporters(report_to) -> list[str] | str:
    """Keep the loggers that are installed (TensorBoard, W&B are optional), warn about the others."""
    import importlib.util

    wanted = [report_to] if isinstance(report_to, str) else list(report_to or [])
    if wanted in (["none"], []):
        return "none"
    modules = {"tensorboard": "tensorboard", "wandb": "wandb"}
    kept = []
    for name in wanted:
        module = modules.get(name)
        if module is not None and importlib.util.find_spec(module) is None:
            log.warning("training.report_to: %s is not installed, not logging to it", name)
        else:
            kept.append(name)
    return kept or "none"


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    # Launchers (torchrun, accelerate, deepspeed) set RANK before the process group exists.
    rank = os.environ.get("RANK")
    prefix = f"[rank {rank}] " if rank is not None else ""
    handler.setFormatter(logging.Formatter(f"%(asctime)s {prefix}%(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger("fakevlm_training")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
