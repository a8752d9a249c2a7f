"""Make this package's tasks visible to lmms-eval without ``--include_path``.

lmms-eval 0.7 indexes tasks only from its own folder and from ``include_path``. We wrap
``TaskManager.initialize_tasks`` so that our task folder is always part of the include
path. The wrapper is installed once, checks the method it wraps still has the signature
we rely on, and leaves the user's own ``include_path`` first (their tasks win clashes,
as built-in tasks already do).
"""

from __future__ import annotations

import functools
import inspect

from fakevlm_tasks import TASKS_DIR

_MARK = "_fakevlm_tasks_wrapped"


class RegistrationError(RuntimeError):
    """lmms-eval changed in a way this hook does not understand."""


def _with_our_path(include_path):
    """The user's include path, then our task folder and the benchmark folders on ``$FAKEVLM_BENCHMARKS``."""
    from fakevlm_tasks.glue.benchmarks import external_dirs

    paths = [] if include_path is None else [include_path] if isinstance(include_path, str) else list(include_path)
    for extra in (str(TASKS_DIR), *external_dirs()):
        if extra.rstrip("/") not in [str(p).rstrip("/") for p in paths]:
            paths.append(extra)
    return paths


def register_tasks() -> None:
    """Idempotently patch lmms-eval's ``TaskManager`` to index ``fakevlm_tasks/tasks``."""
    from lmms_eval.tasks import TaskManager

    original = TaskManager.initialize_tasks
    if getattr(original, _MARK, False):
        return
    params = list(inspect.signature(original).parameters)
    if params[:2] != ["self", "include_path"]:
        raise RegistrationError(f"TaskManager.initialize_tasks has parameters {params}; expected (self, include_path, ...)")

    @functools.wraps(original)
    def initialize_tasks(self, include_path=None, *args, **kwargs):
        return original(self, _with_our_path(include_path), *args, **kwargs)

    setattr(initialize_tasks, _MARK, True)
    TaskManager.initialize_tasks = initialize_tasks


def is_registered() -> bool:
    from lmms_eval.tasks import TaskManager

    return bool(getattr(TaskManager.initialize_tasks, _MARK, False))
