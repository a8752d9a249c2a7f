"""Shared fixtures: a tiny local LLaVA, the real annotation files when ../shared exists, offline env."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Nothing may reach the network: every model and data file is built or shipped locally.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory) -> Path:
    """A tiny random-weight LLaVA checkpoint with its processor (never modify it in a test)."""
    from fakevlm_model.tiny import build_tiny_llava

    return build_tiny_llava(tmp_path_factory.mktemp("tiny_llava") / "model")


@pytest.fixture(scope="session")
def fake_answering_llava(tmp_path_factory) -> Path:
    """A tiny LLaVA fine-tuned to answer "This is a fake image." to the FakeClue question."""
    from fakevlm_model.tiny import build_tiny_llava, rig_answer

    path = build_tiny_llava(tmp_path_factory.mktemp("fake_llava") / "model", seed=1)
    return rig_answer(path, "This is a fake image.")


@pytest.fixture
def shared_data() -> Path:
    """The real annotation files of LOKI, DD-VQA and FF++; skipped in a clone without ../shared."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present (a user's clone has none)")
    return SHARED_DATA
