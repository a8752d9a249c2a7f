"""LOKI's code, one concern a module; ``benchmark.py`` names them for the YAMLs and declares the benchmark.

* ``prepare``: LOKI's annotation files as the four prepared sets, and a miniature of them for tests;
* ``score``: LOKI's scoring rules (its reading of a yes/no answer, its per-category score); pure;
* ``options``: LOKI's reading of a multiple-choice answer; pure;
* ``rubric``: LOKI's four criteria as a prompt to the judge, and the grades read from its reply;
* ``judgment``, ``choice``, ``explain``: the records and aggregations of ``loki_judgment``, ``loki_mc``,
  ``loki_explain``.
"""
