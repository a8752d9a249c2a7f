"""Stored samples, recomputed by today's code, give the metrics the code of the fixture's commit gave them.

``tests/data/regression/fixture.json`` holds, per task, two seeded runs of 40 synthetic docs (one with a verdict
score on every answer, one with gaps and failures) and what each task YAML's ``process_results`` and aggregations,
and the leaderboard's statistics on the logged samples, made of them when the fixture was written
(``tests/data/regression/generate.py``; see its git history for the commit). A change of layout or of a metric's
implementation must leave every number as it was.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "data" / "regression"
sys.path.insert(0, str(HERE))
import generate  # noqa: E402  (the fixture's own writer: the same calls, made by today's code)

sys.path.remove(str(HERE))
FIXTURE = json.loads((HERE / "fixture.json").read_text(encoding="utf-8"))


def _same(a, b) -> bool:
    if a is None or b is None or isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@pytest.fixture(scope="module")
def configs():
    return generate.task_configs()


def test_the_fixture_covers_every_task(configs):
    assert set(FIXTURE) == set(configs)


@pytest.mark.parametrize("task", sorted(FIXTURE))
def test_task_metrics_are_those_of_the_fixture(task, configs, monkeypatch):
    monkeypatch.setenv("FAKEVLM_PARSE_MODE", "robust")
    monkeypatch.delenv("FAKEVLM_JUDGE_MODEL", raising=False)
    for n, run in enumerate(FIXTURE[task]):
        metrics, outs = generate.aggregate(configs[task], run["docs"], run["responses"], generate.answer_type())
        differ = {m: (v, metrics.get(m)) for m, v in run["metrics"].items() if not _same(v, metrics.get(m))}
        assert not differ, f"{task} run {n}: (stored, now) {differ}"
        assert set(metrics) == set(run["metrics"]), f"{task} run {n}: the metric list changed"
        if "statistics" in run:
            with tempfile.TemporaryDirectory() as tmp:
                now = generate.statistics(generate.samples_file(Path(tmp) / "s.jsonl", run["docs"], outs))
            points = {m: (v, now["points"].get(m)) for m, v in run["statistics"]["points"].items()
                      if not _same(v, now["points"].get(m))}
            assert not points, f"{task} run {n}: statistics' points (stored, now) {points}"
            for m, (low, high) in run["statistics"]["intervals"].items():
                assert _same(low, now["intervals"][m][0]) and _same(high, now["intervals"][m][1]), (task, n, m)
