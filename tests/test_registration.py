"""The plugin mechanics: model via entry point, tasks via the TaskManager hook, --include_path fallback.

If lmms-eval changes how it loads plugins or indexes tasks, these tests fail loudly.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

OUR_TASKS = {"fakeclue", "loki", "loki_judgment"}


def test_fakevlm_is_declared_in_lmms_evals_model_entry_point_group():
    (ep,) = [ep for ep in entry_points(group="lmms_eval.models") if ep.name == "fakevlm"]
    assert ep.value == "fakevlm_model.plugin:manifests"


@pytest.mark.slow
def test_importing_lmms_eval_models_registers_the_model_and_the_tasks():
    import lmms_eval.models as models
    from lmms_eval.tasks import TaskManager

    from fakevlm_tasks.glue.registration import is_registered

    assert "fakevlm" in models.list_available_models()
    assert models.get_model_manifest("fakevlm").simple_class_path == "fakevlm_model.fakevlm.FakeVLM"
    assert is_registered()
    assert OUR_TASKS <= set(TaskManager("ERROR").all_tasks)


@pytest.mark.slow
def test_registration_keeps_the_users_include_path_and_is_idempotent(tmp_path):
    import lmms_eval.models  # noqa: F401  (runs the entry point)
    from lmms_eval.tasks import TaskManager

    from fakevlm_tasks.glue.registration import register_tasks

    register_tasks()  # a second call must not wrap twice
    user = tmp_path / "mytasks"
    user.mkdir()
    (user / "mine.yaml").write_text("task: my_probe_task\ndataset_path: json\noutput_type: generate_until\n")
    names = set(TaskManager("ERROR", include_path=str(user)).all_tasks)
    assert "my_probe_task" in names and OUR_TASKS <= names


def test_an_incompatible_lmms_eval_is_reported_not_silently_ignored(monkeypatch):
    import lmms_eval.tasks

    from fakevlm_tasks.glue import registration

    class ChangedTaskManager:
        def initialize_tasks(self, paths, defaults=True):  # renamed parameters
            return {}

    monkeypatch.setattr(lmms_eval.tasks, "TaskManager", ChangedTaskManager)
    with pytest.raises(registration.RegistrationError, match="initialize_tasks"):
        registration.register_tasks()


def test_plugin_entry_point_never_raises_and_points_to_include_path(monkeypatch):
    from loguru import logger

    from fakevlm_model import plugin
    from fakevlm_tasks.glue import registration

    def broken():
        raise registration.RegistrationError("changed")

    monkeypatch.setattr(registration, "register_tasks", broken)
    messages = []
    sink = logger.add(messages.append, level="WARNING")
    try:
        manifests = plugin.manifests()
    finally:
        logger.remove(sink)
    assert {m.model_id for m in manifests} == {"fakevlm", "detector", "replay"}
    assert any("--include_path" in str(m) for m in messages)


def test_python_m_fakevlm_tasks_path_prints_the_task_folder():
    from fakevlm_tasks import TASKS_DIR

    out = subprocess.run([sys.executable, "-m", "fakevlm_tasks", "--path"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(TASKS_DIR)
    assert (TASKS_DIR / "fakeclue" / "fakeclue.yaml").is_file()


@pytest.mark.slow
def test_lmms_eval_tasks_list_shows_our_tasks():
    proc = subprocess.run(
        [sys.executable, "-c", "from lmms_eval.cli.dispatch import main; main()", "--tasks", "list"],
        capture_output=True, text=True, timeout=300,
    )
    listed = {line.strip().lstrip("- ").strip() for line in (proc.stdout + proc.stderr).splitlines()}
    assert OUR_TASKS <= listed
