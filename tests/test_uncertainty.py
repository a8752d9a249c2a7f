"""The leaderboard's rows for intervals and comparisons say when the statistics are degenerate, instead of looking decisive."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import special

from fakevlm_tasks.report import logged_samples, uncertainty
from fakevlm_tasks.scoring import stats

REAL, FAKE = "real", "fake"


def run_of(model, docs: stats.PerDoc, reported: dict) -> uncertainty.Run:
    ids = list(range(docs.n))
    samples = logged_samples.LoggedRun(Path(f"{model}.jsonl"), ids, [None] * docs.n, [f"doc{i}" for i in ids], docs)
    return uncertainty.Run(model, "fakeclue", Path(f"{model}_results.json"), reported, samples)


def rows_by_metric(run):
    return {r["metric"]: r for r in uncertainty.estimates(run, uncertainty.Settings(n_resamples=500))}


def test_accuracy_of_100_on_24_docs_is_reported_with_the_exact_interval():
    labels = [REAL] * 12 + [FAKE] * 12
    rows = rows_by_metric(run_of("m", stats.per_doc(labels, labels), {"acc": 100.0, "f1": 100.0}))
    low, high = rows["acc"]["ci95"]
    assert (round(low, 1), high) == (85.8, 100.0) and "Clopper-Pearson" in rows["acc"]["method"]
    # F1 has no exact interval: its zero-width one is withheld, with the reason.
    assert rows["f1"]["ci95"] is None and "zero-width" in rows["f1"]["reason"]


def test_a_value_outside_its_interval_is_flagged_in_its_row():
    p = np.r_[[0.3] * 10, [0.7] * 10]
    real = np.r_[[1] * 3, [0] * 7, [1] * 7, [0] * 3].astype(bool)
    docs = stats.per_doc(np.where(real, REAL, FAKE), [REAL] * 20, log_odds=special.logit(p))
    row = rows_by_metric(run_of("m", docs, {"acc": 50.0}))["ece"]
    assert row["point_outside_ci"] is True and "outside its own bootstrap interval" in row["note"]
    assert row["ci95"][0] > row["value"]


def test_a_zero_width_comparison_interval_is_left_out_with_a_note():
    labels = [REAL] * 3 + [FAKE] * 3
    a = stats.per_doc(labels, labels, log_odds=np.linspace(3, -3, 6))
    b = stats.per_doc(labels, [REAL] * 6, log_odds=[0.5] * 6)
    fields = uncertainty.comparison_fields(stats.compare(a, b, ["auc"], n_resamples=500)["auc"])
    assert fields["ci95"] is None and fields["p_value"] == 2 / 64 and "DeLong's variance is zero" in fields["note"]


@pytest.mark.parametrize("task", ["../../outside", "a/b", "nul\x00byte"])
def test_a_task_name_that_can_name_no_samples_file_is_a_run_without_samples_and_a_reason(tmp_path, task):
    run = uncertainty.load_run("dummy", task, tmp_path / "20250101_000000_results.json", {}, uncertainty.Settings())
    assert run.samples is None and "can name no samples file" in run.missing
