"""lmms-eval tasks for explainable AI-generated-image detection (FakeVLM's benchmarks)."""

from pathlib import Path

__version__ = "0.1.0"

#: Folder with the task YAMLs; what ``--include_path`` should point at.
TASKS_DIR = Path(__file__).resolve().parent / "tasks"
