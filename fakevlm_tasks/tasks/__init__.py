"""The built-in benchmark folders (one per benchmark: YAMLs, README, ``benchmark.py``).

A package so that a folder's ``benchmark.py``, which lmms-eval executes as a module of its own, can import the
folder's other modules absolutely (``fakevlm_tasks.tasks.loki.judgment``).
"""
