"""Running the real lmms-eval CLI from tests, preparing its data, and reading what it wrote.

lmms-eval exits 0 even when an evaluation fails, so the readers assert on the files and
show the run's output when they are missing.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from fakevlm_tasks.glue.prepared import DATA_DIR_ENV

#: lmms-eval's console entry point, run with this interpreter.
LMMS_EVAL = [sys.executable, "-c", "from lmms_eval.cli.dispatch import main; main()"]


@contextmanager
def data_dir(root: Path):
    """Point ``$FAKEVLM_DATA_DIR`` at ``root`` in this process for the block, then restore it."""
    old = os.environ.get(DATA_DIR_ENV)
    os.environ[DATA_DIR_ENV] = str(root)
    try:
        yield root
    finally:
        if old is None:
            del os.environ[DATA_DIR_ENV]
        else:
            os.environ[DATA_DIR_ENV] = old


def prepare(root: Path, *argv: str) -> None:
    """``fakevlm-data prepare <argv>`` into ``root``; fails the test if it does not succeed."""
    from fakevlm_tasks.data import cli

    with data_dir(root):
        assert cli.main(["prepare", *argv]) == 0, argv


def offline_env(data_root: Path, **extra: str) -> dict:
    """The environment of an lmms-eval subprocess: this one's, offline, reading ``data_root``."""
    return dict(os.environ, **{DATA_DIR_ENV: str(data_root)}, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
                TRANSFORMERS_OFFLINE="1", **extra)


def run_cli(args: list[str], env: dict, *, launcher: list[str] = LMMS_EVAL, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*launcher, *args], env=env, capture_output=True, text=True, timeout=timeout)


def run_fakevlm(model_dir: Path, tasks: str, out: Path, data_root: Path, *extra: str, model_args: str = "") -> subprocess.CompletedProcess:
    """``lmms-eval --model fakevlm`` on CPU with short answers, logging samples."""
    args = f"pretrained={model_dir},device=cpu,max_new_tokens=12" + (f",{model_args}" if model_args else "")
    return run_cli(["--model", "fakevlm", "--model_args", args, "--tasks", tasks, "--batch_size", "4",
                    "--output_path", str(out), "--log_samples", *extra], offline_env(data_root))


def results_file(out: Path, proc: subprocess.CompletedProcess | None = None) -> Path:
    """The newest ``*_results.json`` under ``out``."""
    files = sorted(out.rglob("*_results.json"))
    log = "" if proc is None else "\n" + proc.stdout[-3000:] + proc.stderr[-6000:]
    assert files, f"lmms-eval wrote no results JSON under {out}{log}"
    return files[-1]


def results_of(out: Path, proc: subprocess.CompletedProcess | None = None) -> dict:
    return json.loads(results_file(out, proc).read_text())


def samples_of(out: Path, task: str) -> list[dict]:
    """The lines of the task's ``*_samples_<task>.jsonl`` (there must be exactly one)."""
    (path,) = sorted(out.rglob(f"*_samples_{task}.jsonl"))
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@functools.cache
def first_prompt(model: str, task: str, root: Path) -> str:
    """The first doc's prompt that lmms-eval's own task loading gives ``model`` for ``task``, with the data prepared
    under ``root``; cached, since a module's tests ask it of the same prepared data many times."""
    from lmms_eval.tasks import TaskManager, get_task_dict

    from fakevlm_tasks import TASKS_DIR

    with data_dir(root):
        manager = TaskManager("WARNING", include_path=str(TASKS_DIR), include_defaults=False, model_name=model)
        loaded = get_task_dict([task], manager)[task]
        return loaded.doc_to_text(loaded.test_docs()[0])
