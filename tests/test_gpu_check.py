"""benchmarks/gpu_check.py: its ``--tiny`` run end to end on the CPU, and the arithmetic and sizing it prints from."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_table(tmp_path_factory) -> str:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--workdir", str(tmp_path_factory.mktemp("gpu_check"))],
                          capture_output=True, text=True, timeout=900, cwd=REPO_ROOT, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def table_row(table: str, name: str, batch: int) -> list[str]:
    """The cells after the runner's name of the row ``name`` at ``batch``."""
    for line in table.splitlines():
        if line.startswith(name) and line[len(name):].split()[:1] == [str(batch)]:
            return line[len(name):].split()
    raise AssertionError(f"no row {name!r} at batch {batch} in:\n{table}")


@pytest.mark.slow
def test_tiny_run_answers_every_image_at_every_batch_size_and_reports_parity(tiny_table):
    previous = None
    for batch in (1, 8, 16, 32, 64):
        cells = table_row(tiny_table, "fakevlm", batch)
        images = max(4, 2 * batch)
        assert cells[1:3] == [str(images), str(images)], cells  # images, answered
        assert float(cells[4]) > 0  # images/s
        if previous is not None:  # same answers as batch 1 (its 4 images) / as the previous batch size (all of its)
            assert re.fullmatch(r"\d+/4", cells[-3]) and re.fullmatch(rf"\d+/{previous}", cells[-1]), cells
        previous = images


@pytest.mark.slow
def test_tiny_run_has_the_baselines_and_says_why_the_gpu_steps_did_not_run(tiny_table):
    assert table_row(tiny_table, "llava_hf (lmms-eval)", 1)[1:3] == ["4", "4"]
    official = table_row(tiny_table, "official loop, pad 1024", 16)
    assert official[1:3] == ["16", "16"] and re.fullmatch(r"\d+/4", official[-1])
    assert "not run: no CUDA device" in tiny_table and "not run: vLLM needs a GPU" in tiny_table
    assert re.search(r"TFLOP per image \(forward\)", tiny_table)


def test_the_flops_per_image_are_the_training_readmes_forward_pass(gpu_check):
    from fakevlm_training.budget import (
        ANSWER_TOKENS,
        PROMPT_TOKENS,
        Budget,
        count_parameters,
        llava_1_5_7b_config,
    )

    config = llava_1_5_7b_config()
    training = Budget(count_parameters(config), image_tokens=576, text_tokens=PROMPT_TOKENS + ANSWER_TOKENS)
    # Training is 4 forward passes (forward, backward = 2, recompute); README: 4.766e13 FLOPs per sample.
    assert gpu_check.flops_per_image(config, 576 + PROMPT_TOKENS, ANSWER_TOKENS) == pytest.approx(training.flops_per_sample() / 4)
    assert training.flops_per_sample() == pytest.approx(4.766e13, rel=1e-3)


def test_the_oom_batch_needs_about_twice_the_free_memory_for_its_kv_cache(gpu_check, monkeypatch):
    import torch
    from fakevlm_training.budget import llava_1_5_7b_config

    config = llava_1_5_7b_config()
    free = 120 * 2**30
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda *a: (free, 141 * 2**30))
    batch = gpu_check.oom_batch(config, prompt_tokens=590, new_tokens=8)
    kv = 2 * 32 * 4096 * 2 * (590 + 8) * batch  # keys and values, 32 layers, bf16
    assert batch & (batch - 1) == 0 and 2 * free < kv <= 4 * free


@pytest.mark.parametrize(("name", "peak_tflops"), [
    ("NVIDIA H200", 989), ("NVIDIA H100 80GB HBM3", 989), ("NVIDIA H100 PCIe", 756),
    ("NVIDIA A100-SXM4-80GB", 312), ("NVIDIA A100-PCIE-40GB", 312), ("NVIDIA GeForce RTX 4090", None),
])
def test_the_compute_limit_comes_from_the_cards_data_sheet(gpu_check, monkeypatch, name, peak_tflops):
    import torch

    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: name)
    peaks = gpu_check.gpu_peaks(torch.device("cuda"))
    assert (peaks[0] / 1e12 if peaks else None) == peak_tflops
