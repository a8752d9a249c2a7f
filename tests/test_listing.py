"""The listing commands the README gives find this plugin's tasks and models through the real lmms-eval CLI.

lmms-eval 0.7.3's own ``lmms-eval tasks list`` builds its task index without loading
model entry points (where this plugin adds its task folder), and ``lmms-eval models``
prints a built-in table: neither shows our tasks or models. Each command below is run
exactly as written in README.md, through bash, with this interpreter's scripts first on
the PATH.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import yaml

from fakevlm_tasks import TASKS_DIR

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[1] / "README.md"
BIN = Path(sys.executable).parent

LIST_TASKS = "lmms-eval --tasks list"
LIST_TASKS_SUBCOMMAND = "lmms-eval tasks list --include-path $(python -m fakevlm_tasks --path)"
LIST_MODELS = "python -c \"from lmms_eval.models import list_available_models; print('\\n'.join(list_available_models()))\""
OUR_MODELS = {"fakevlm", "detector", "replay"}


class _NamesOnly(yaml.SafeLoader):
    """Reads a task YAML without importing its ``!function`` hooks: only names are needed here."""


_NamesOnly.add_multi_constructor("!", lambda loader, suffix, node: None)


def our_names() -> set[str]:
    """Every name the task folder defines: tasks, groups and tags."""
    names = set()
    for path in TASKS_DIR.rglob("*.yaml"):
        config = yaml.load(path.read_text(), Loader=_NamesOnly) or {}
        tags = config.get("tag") or []
        names.update([tags] if isinstance(tags, str) else tags)
        # A group's `task` lists its members (named in their own files); a task's is its name.
        names.update(config[key] for key in ("task", "group") if isinstance(config.get(key), str))
    return names


def run_as_documented(command: str) -> set[str]:
    """The names ``command`` lists, one per line (``name``, ``  name`` or `` - name``)."""
    assert f"`{command}`" in README.read_text(), f"README.md no longer gives `{command}`: update the README or this test"
    assert (BIN / "lmms-eval").exists(), f"no lmms-eval script beside {sys.executable}: install the package first"
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    proc = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {m[1] for m in re.finditer(r"^\s*(?:- )?([\w.-]+)\s*$", proc.stdout, re.MULTILINE)}


def test_lmms_eval_tasks_list_flag_shows_every_task_group_and_tag():
    listed = run_as_documented(LIST_TASKS)
    assert our_names() <= listed, sorted(our_names() - listed)
    assert "mme" in listed  # the host's own tasks are still there


def test_lmms_eval_tasks_subcommand_with_our_include_path_shows_every_task_group_and_tag():
    listed = run_as_documented(LIST_TASKS_SUBCOMMAND)
    assert our_names() <= listed, sorted(our_names() - listed)
    assert "mme" in listed


def test_the_hosts_model_registry_lists_our_models():
    listed = run_as_documented(LIST_MODELS)
    assert OUR_MODELS <= listed, sorted(listed)
    assert "llava_hf" in listed
