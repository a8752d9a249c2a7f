"""lmms-eval entry point: registers the ``fakevlm``, ``detector`` and ``replay`` models and makes this project's tasks visible.

lmms-eval loads the ``lmms_eval.models`` entry-point group when ``lmms_eval.models`` is
imported, which its CLI does before it builds the ``TaskManager``. lmms-eval has no task
entry point, so the same hook adds ``fakevlm_tasks``' task folder to every TaskManager
(see :mod:`fakevlm_tasks.glue.registration`), and teaches the response cache and the
reasoning-tag removal to keep each answer's verdict score (:mod:`fakevlm_tasks.glue.sample`).
A failing entry point makes lmms-eval skip all later plugins, so nothing here may raise.
"""

from __future__ import annotations

from loguru import logger


def manifests():
    from lmms_eval.models.registry_v2 import ModelManifest

    try:
        from fakevlm_tasks.glue.registration import register_tasks

        register_tasks()
    except Exception as exc:  # never break lmms-eval's plugin loading
        logger.warning(f"fakevlm-eval: could not register its tasks automatically ({exc}); pass --include_path $(python -m fakevlm_tasks --path)")
    try:
        from fakevlm_tasks.glue.sample import install_cache_persistence

        install_cache_persistence()
    except Exception as exc:  # the tasks then report missing verdict scores under --use_cache
        logger.warning(f"fakevlm-eval: verdict scores will not survive lmms-eval's --use_cache ({exc})")
    try:
        from fakevlm_tasks.glue.sample import install_reasoning_tag_persistence

        install_reasoning_tag_persistence()
    except Exception as exc:  # the tasks then report missing verdict scores for reasoning models
        logger.warning(f"fakevlm-eval: verdict scores will not survive lmms-eval's reasoning-tag removal ({exc})")
    return [ModelManifest(model_id="fakevlm", simple_class_path="fakevlm_model.fakevlm.FakeVLM"),
            ModelManifest(model_id="detector", simple_class_path="fakevlm_model.detector.Detector"),
            ModelManifest(model_id="replay", simple_class_path="fakevlm_model.replay.Replay")]
