"""A tiny reasoning model: the tiny LLaVA rigged to think aloud in ``<think>...</think>`` before its verdict.

A stand-in for R1-style detectors, whose answers lmms-eval cuts down to what follows the
reasoning block (``--reasoning_tags``, on by default) before a task sees them. The
reasoning names neither "real" nor "fake", so the verdict token the adapter scores is
the one after the block.
"""

from __future__ import annotations

from pathlib import Path

from fakevlm_toys.tiny_llava import build_tiny_llava, rig_answer

REASONING = "<think> The edges are smooth and the light is even. </think>"
VERDICT = "This is a fake image."
ANSWER = f"{REASONING} {VERDICT}"


def build_tiny_reasoning_llava(out_dir: str | Path, *, prompts: tuple[str, ...] = ("<image>Does the image looks real/fake?",)) -> Path:
    """Write the tiny LLaVA to ``out_dir`` and fine-tune it to answer :data:`ANSWER` to each of ``prompts``."""
    path = build_tiny_llava(out_dir, seed=2, vocab_size=360, extra_corpus=(ANSWER,))
    return rig_answer(path, ANSWER, prompts=prompts, steps=400)
