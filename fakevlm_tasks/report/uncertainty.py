"""Intervals and paired tests for lmms-eval runs, from the ``--log_samples`` files beside their results JSONs.

The leaderboard's bridge between results files and :mod:`fakevlm_tasks.scoring.stats`: which
metrics get an interval, the check that the samples reproduce the reported value, which
models on a benchmark cannot be told apart from the best, and ``compare``. Values are
x100, as the tasks report them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from fakevlm_tasks.report import logged_samples
from fakevlm_tasks.scoring import stats

#: Metrics the samples give even where the results do not report them.
SAMPLE_ONLY = ("balanced_acc", "auc", "tpr_at_fpr_1", "tpr_at_fpr_5", "ece", "brier")


def ranking_metric(task: str) -> str:
    """The metric that ranks models on a task: its benchmark's ``ranking`` entry, else "acc"."""
    from fakevlm_tasks.glue.benchmarks import task_benchmark

    bench = task_benchmark(task)
    return (bench.ranking.get(task) if bench else None) or "acc"

#: A value recomputed from the samples must match the reported one this closely (x100) to get an interval.
REPRODUCE_TOLERANCE = 1e-6
ALPHA = 0.05
CSS_REASON = ("per-doc CSS needs the sentence encoder: pass --css to recompute it from the logged texts "
              "(with the encoder the $FAKEVLM_CSS_* settings name: give the ones the run used)")


@dataclass
class Settings:
    """How intervals and tests are computed (:mod:`fakevlm_tasks.scoring.stats` conventions)."""

    n_resamples: int = stats.DEFAULT_RESAMPLES
    seed: int = stats.DEFAULT_SEED
    confidence: float = stats.CONFIDENCE
    css_model: object = None  # the CSS encoder (fakevlm_tasks.services.embeddings) when CSS is recomputed

    def describe(self) -> dict:
        return {"confidence": self.confidence, "n_resamples": self.n_resamples, "seed": self.seed,
                "css_recomputed": self.css_model is not None, "scale": "x100"}


@dataclass
class Run:
    """One model's results on one task and, if found, its logged samples."""

    model: str
    task: str
    results_path: Path
    reported: dict
    samples: logged_samples.LoggedRun | None = None
    missing: str | None = None  # why there are no samples
    notes: list[str] = field(default_factory=list)


def load_run(model: str, task: str, results_path: Path, reported: dict, settings: Settings) -> Run:
    path = logged_samples.samples_path(results_path, task)
    run = Run(model, task, Path(results_path), reported)
    if path is None:
        run.missing = f"the task name {task!r} can name no samples file beside {results_path.name}"
        return run
    if not path.is_file():
        run.missing = f"no samples file beside {results_path.name} ({path.name}): run lmms-eval with --log_samples"
        return run
    try:
        run.samples = logged_samples.read_samples(path, css_model=settings.css_model)
    except ValueError as exc:
        run.missing = f"samples unreadable: {exc}"
        return run
    run.notes = list(run.samples.notes)
    return run


def _number(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v) else None


def kernels(task: str | None) -> dict:
    """The stats kernels for ``task``: the generic ones and those its benchmark declares (``statistics``)."""
    from fakevlm_tasks.glue.benchmarks import task_benchmark

    bench = task_benchmark(task) if task else None
    return {**stats.METRICS, **(bench.statistics if bench else {})}


def interval_metrics(reported: dict, task: str | None = None) -> list[str]:
    """The metrics of a task that get an interval: those it reports that stats (or its benchmark) has a kernel for,
    then the sample-only ones."""
    known = [m for m in reported if m in kernels(task)]
    return known + [m for m in SAMPLE_ONLY if m not in reported]


def _reproduces(metric: str, recomputed: float, reported) -> str | None:
    """None if the samples give the reported value; else why the interval would describe another number."""
    if reported is None:
        return f"the results report no value for {metric}"
    if abs(100 * recomputed - reported) > REPRODUCE_TOLERANCE * max(1.0, abs(reported)):
        return (f"the samples give {100 * recomputed:.6g} but the results report {reported:.6g}: "
                "the interval would describe another number (other data or another definition)")
    return None


def _row(run: Run, metric: str, value, **extra) -> dict:
    base = {"model": run.model, "task": run.task, "metric": metric, "value": value, "ci95": None, "n": None,
            "n_clusters": None, "source": "results", "method": None, "reason": None, "note": None,
            "point_outside_ci": None}
    return {**base, **extra}


def estimates(run: Run, settings: Settings) -> list[dict]:
    """leaderboard.json rows for one run: every scalar metric it reports, and the sample-only metrics the samples allow.

    A row has ``value``, ``ci95`` ([low, high] or None) and ``n`` (docs the metric
    covers); ``reason`` says why a row has no interval.
    """
    rows = []
    scalar = {m: v for m, v in run.reported.items() if _number(v) is not None}
    table = kernels(run.task)
    computed = {}
    if run.samples is not None:
        computed = stats.intervals(run.samples.docs, interval_metrics(scalar, run.task), confidence=settings.confidence,
                                   n_resamples=settings.n_resamples, seed=settings.seed, kernels=table)
    for metric, value in scalar.items():
        iv = computed.get(metric)
        if run.samples is None:
            rows.append(_row(run, metric, value, reason=run.missing))
        elif metric not in table:
            rows.append(_row(run, metric, value, reason="no interval for this metric"))
        elif isinstance(iv, str):
            rows.append(_row(run, metric, value, reason=CSS_REASON if metric == "css" and settings.css_model is None else iv))
        elif (why := _reproduces(metric, iv.value, value)) is not None:
            rows.append(_row(run, metric, value, reason=why))
        else:
            rows.append(_row(run, metric, value, **_interval_fields(iv)))
    for metric in SAMPLE_ONLY:
        iv = computed.get(metric)
        if metric in scalar or iv is None:
            continue
        if isinstance(iv, str):
            run.notes.append(f"{metric}: {iv}")
            continue
        rows.append(_row(run, metric, 100 * iv.value, source="samples", **_interval_fields(iv)))
    return rows


def _interval_fields(iv: stats.Interval) -> dict:
    """A row's interval: ``note`` says what a reader must know (an exact interval, a value outside its interval);
    a zero-width bootstrap interval is no interval at all, and its note becomes the ``reason``."""
    fields = {"n": iv.n, "n_clusters": iv.n_clusters, "note": iv.note, "point_outside_ci": iv.outside}
    if iv.degenerate:
        return {**fields, "ci95": None, "method": None, "reason": iv.note}
    return {**fields, "ci95": [100 * iv.low, 100 * iv.high], "method": iv.method}


# ------------------------------------------------------------------- comparisons


def comparison_fields(c: stats.Comparison | str) -> dict:
    """One metric of a comparison as JSON: x100 values, ``diff`` = A - B, its ``ci95``, ``p_value`` and ``test``;
    ``note`` says why the usual test was replaced, and a zero-width interval is left out (``ci95`` None)."""
    if isinstance(c, str):
        return {"a": None, "b": None, "diff": None, "ci95": None, "p_value": None, "test": None, "reason": c,
                "note": None}
    return {"a": 100 * c.a, "b": 100 * c.b, "diff": 100 * c.diff,
            "ci95": None if c.low == c.high else [100 * c.low, 100 * c.high],
            "p_value": c.p_value, "test": c.test, "ci_method": c.ci_method, "n": c.n, "reason": None, "note": c.note}


def compare_runs(a: Run, b: Run, metrics: list[str], settings: Settings) -> dict[str, stats.Comparison | str]:
    """Paired comparison of two runs of one task (A - B); raises RunMismatch for different docs.

    A metric whose recomputed value differs from what either run reports is refused
    with the reason, as in :func:`estimates`.
    """
    for run in (a, b):
        if run.samples is None:
            raise logged_samples.RunMismatch(f"{run.model}: {run.missing}")
    logged_samples.check_same_docs(a.samples, b.samples)
    result = stats.compare(a.samples.docs, b.samples.docs, metrics, confidence=settings.confidence,
                           n_resamples=settings.n_resamples, seed=settings.seed, kernels=kernels(a.task))
    for metric, c in list(result.items()):
        if isinstance(c, str):
            if metric == "css" and settings.css_model is None:
                result[metric] = CSS_REASON
            continue
        for run, value in ((a, c.a), (b, c.b)):
            if metric in run.reported and (why := _reproduces(metric, value, _number(run.reported[metric]))):
                result[metric] = f"{run.model}: {why}"
    return result


def significance(runs: list[Run], settings: Settings) -> list[dict]:
    """For one benchmark: each model against the best on the headline metric (paired test; tied when p >= 0.05).

    ``runs`` are the runs of one task. The best is the highest reported value; a model
    without samples, or over other docs, gets a reason instead of a test.
    """
    if not runs:
        return []
    task = runs[0].task
    metric = ranking_metric(task)
    ranked = sorted((r for r in runs if _number(r.reported.get(metric)) is not None),
                    key=lambda r: -r.reported[metric])
    if len(ranked) < 2:
        return []
    best, out = ranked[0], []
    for run in ranked[1:]:
        entry = {"task": task, "metric": metric, "best": best.model, "model": run.model,
                 "value": run.reported[metric], "best_value": best.reported[metric]}
        try:
            c = compare_runs(run, best, [metric], settings)[metric]
        except (logged_samples.RunMismatch, ValueError) as exc:
            c = str(exc)
        fields = comparison_fields(c)
        entry.update(diff=fields["diff"], ci95=fields["ci95"], p_value=fields["p_value"], test=fields["test"],
                     tied_with_best=None if fields["p_value"] is None else fields["p_value"] >= ALPHA, reason=fields["reason"],
                     note=fields["note"])
        out.append(entry)
    return out
