"""``fakevlm-leaderboard``: the paper's tables from lmms-eval results JSONs (Markdown, CSV, PNG, JSON), with intervals.

Reads any number of ``*_results.json`` files (or folders holding them), merges them per run
configuration (:mod:`fakevlm_tasks.report.results`: adapter, checkpoint and every generation-relevant
model arg; a row is named by the checkpoint, the adapter and the args that tell it from the others), and
writes one row per configuration: Acc/F1/ROUGE-L/CSS per benchmark, AUC where a task reports it, the
per-group breakdowns, the robustness variants (each benchmark's ``variants/``) and the share of
unreadable answers. Where the run logged its samples (``--log_samples``), each value
gets a 95% bootstrap interval and each benchmark marks the models that a paired test
cannot tell from the best (:mod:`fakevlm_tasks.report.uncertainty`). ``--with-paper`` adds the
paper's reported numbers as rows whose source column says which table they come from. A
cell without a value stays blank; a value from a run over part of its set says so (``n=12 of 5,000``).
The command line is :mod:`fakevlm_tasks.report.cli`.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from fakevlm_tasks.scoring import stats
from fakevlm_tasks.report import files, results, uncertainty
from fakevlm_tasks.report.tables import MEASURED, Row, Table
from fakevlm_tasks.glue.perturb import PERTURBATIONS, split_task_name

#: Headline metrics of a task no benchmark declares (a task of lmms-eval's own, say), in
#: the order of the paper's columns; a task shows those it reports. A benchmark's own are
#: in its declaration (``Benchmark.headline``), like its title, labels and paper rows.
HEADLINE = ("real_acc", "real_f1", "fake_acc", "fake_f1", "acc", "f1", "rouge_l", "css", "auc_avg")
METRIC_LABELS = {
    "real_acc": "real Acc",
    "real_f1": "real F1",
    "fake_acc": "fake Acc",
    "fake_f1": "fake F1",
    "acc": "Acc",
    "f1": "F1",
    "f1_fake": "F1 (fake +)",
    "balanced_acc": "balanced Acc",
    "rouge_l": "ROUGE-L",
    "css": "CSS",
    "auc": "AUC",
    "auc_avg": "AUC",
    "bacc": "balanced Acc",
}
#: Entries of a breakdown (a dict-valued metric: per_category, per_manipulation,
#: per_family) that get a table of their own.
BREAKDOWN_METRICS = ("acc", "f1", "auc", "video_auc", "bacc", "fake_acc")
#: Per-group metrics are reported flat (``acc_animal``, ``auc_deepfakes``, ``bacc_<family>``); their metric_list
#: entry names its ``group`` (fakevlm_tasks.glue.metric_lists), or, in results written before it did, their
#: aggregation is ``group_aggregation``'s. The longest of these prefixes names the entry.
GROUP_BASES = ("acc", "auc", "video_auc", "bacc", "fake_acc")
GROUP_AGGREGATION = "group_aggregation"


# ------------------------------------------------------------ what the benchmarks declare


def _declared() -> dict:
    """{task: Benchmark} for every task a benchmark folder declares (fakevlm_tasks.glue.benchmarks)."""
    from fakevlm_tasks.glue import benchmarks

    return _declared_under(os.environ.get(benchmarks.BENCHMARKS_ENV, ""))


@functools.cache
def _declared_under(_benchmarks_env: str) -> dict:
    """:func:`_declared` for one value of ``$FAKEVLM_BENCHMARKS``: the folders are read once, not per cell."""
    from fakevlm_tasks.glue import benchmarks

    return {task: bench for bench in benchmarks.discover().values() for task in bench.tasks}


@functools.cache
def _paper_order() -> tuple[str, ...]:
    """The tasks of the ``fakevlm_paper`` group, in its order: the leaderboard's first columns (read once)."""
    import yaml

    from fakevlm_tasks import TASKS_DIR

    group = yaml.safe_load((TASKS_DIR / "fakevlm_paper.yaml").read_text(encoding="utf-8"))
    return tuple(group.get("task") or [])


def headline(task: str) -> tuple[str, ...]:
    bench = _declared().get(task)
    return tuple(bench.headline.get(task, HEADLINE)) if bench else HEADLINE


def metric_label(metric: str, task: str | None = None) -> str:
    bench = _declared().get(task) if task else None
    return (bench.labels.get(metric) if bench else None) or METRIC_LABELS.get(metric, metric)


def group_kind(task: str) -> str:
    """What a task's groups are, as its breakdown is named: ``per_category``, ``per_manipulation``, ..."""
    bench = _declared().get(task)
    return f"per_{bench.groups if bench else 'category'}"

# ----------------------------------------------------------------------- reading


def _group_metrics(config) -> set[str]:
    """Names of the per-group metrics in a task's config (their entry names a group; older: a group aggregation)."""
    entries = (config or {}).get("metric_list")
    entries = entries if isinstance(entries, list) else []
    return {e["metric"] for e in entries if isinstance(e, dict)
            and (e.get("group") is not None or GROUP_AGGREGATION in str(e.get("aggregation", "")))}


def own_group_metrics(task: str) -> tuple[str, ...]:
    """The metrics of the task's benchmark's own that it reports per group (its declaration's ``group_metrics``)."""
    bench = _declared().get(task)
    return tuple(bench.group_metrics) if bench else ()


def _split_group_metric(name: str, task: str) -> tuple[str, str] | None:
    base = max((b for b in GROUP_BASES + own_group_metrics(task) if name.startswith(b + "_")), key=len, default=None)
    return None if base is None else (base, name[len(base) + 1:])


def _breakdown(kept: dict, group_metrics: set[str], task: str) -> dict:
    """The flat per-group metrics as one breakdown, ``{group: {base metric: value}}``."""
    out: dict = {}
    for name in sorted(group_metrics):
        split = _split_group_metric(name, task)
        if split is not None and _number(kept.get(name)) is not None:
            out.setdefault(split[1], {})[split[0]] = kept[name]
    return out


def read_results(files: list[results.ResultsFile]) -> tuple[list[Row], list[results.Merge]]:
    """One row per run configuration (:func:`results.merge`). Flat per-group metrics stay, and are also gathered
    into one dict-valued breakdown (``per_category``, ``per_manipulation``, ``per_family``) for the breakdown tables."""
    for f in files:
        for task, kept in f.scores.items():
            if breakdown := _breakdown(kept, _group_metrics(f.configs.get(task)), task):
                kept.setdefault(group_kind(task), breakdown)
    return results.merge(files)


def collect(paths) -> list[Row]:
    """:func:`read_results` of every results JSON in ``paths``; what was merged or dropped is printed."""
    rows, merges = read_results(results.read_all(paths))
    results.print_merges(merges)
    return rows


# ------------------------------------------------------------ the paper's numbers


def paper_rows() -> list[Row]:
    """The numbers papers report, from each benchmark's declaration, one row per model ("<model> [paper]").

    ``source`` names the tables ("paper, Table 2, Table 3"). A paper's per-group numbers
    (``acc_<category>``, ``auc_<manipulation>``) also form its breakdown.
    """
    from fakevlm_tasks.glue import benchmarks

    rows: dict[str, Row] = {}
    tables: dict[str, list[str]] = {}
    for bench in benchmarks.discover().values():
        for paper in bench.paper:
            task = paper.task or bench.tasks[0]
            for model, values in paper.rows.items():
                row = rows.setdefault(model, Row(f"{model} [paper]"))
                kept = row.scores.setdefault(task, {})
                kept.update({m: v for m, v in values.items() if v is not None})
                groups = {m for m in values if _split_group_metric(m, task) and not m.endswith("_avg")}
                if breakdown := _breakdown(kept, groups, task):
                    kept[group_kind(task)] = breakdown
                if paper.table not in tables.setdefault(model, []):
                    tables[model].append(paper.table)
    for model, row in rows.items():
        row.source = "paper, " + ", ".join(tables[model])
    return list(rows.values())


def _task_key(task: str):
    order = _paper_order()
    base, _ = split_task_name(task)
    return (order.index(task), task) if task in order else (len(order), base, task)


def _label(task: str) -> str:
    """The benchmark's title for its first task; its ``labels`` entry or "<title> (<task>)" for the others."""
    bench = _declared().get(task)
    if bench is None:
        return task
    return bench.labels.get(task) or (bench.title if task == bench.tasks[0] else f"{bench.title} ({task})")


def _number(v):
    return v if isinstance(v, float | int) and not isinstance(v, bool) else None


def main_table(rows: list[Row], measured: list[Row]) -> Table:
    """The paper's main shape: per measured benchmark, the headline metrics any row reports."""
    tasks = sorted({t for r in measured for t in r.scores if split_task_name(t)[1] is None}, key=_task_key)
    columns = [(t, m) for t in tasks for m in headline(t) if any(_number(r.get(t, m)) is not None for r in rows)]
    return Table(
        "main",
        "Detection and explanation (x100)",
        [f"{_label(t)} {metric_label(m, t)}" for t, m in columns],
        rows,
        [[_number(r.get(t, m)) for t, m in columns] for r in rows],
        columns,
    )


def unreadable_table(measured: list[Row]) -> Table | None:
    """Share of answers the verdict parser could not read (scored wrong), per task."""
    tasks = sorted({t for r in measured for t, ms in r.scores.items() if "unknown_rate" in ms}, key=_task_key)
    if not tasks:
        return None
    return Table(
        "unreadable",
        "Unreadable answers (% of detection docs; counted as wrong above)",
        [_label(t) for t in tasks],
        measured,
        [[_number(r.get(t, "unknown_rate")) for t in tasks] for r in measured],
    )


def _entry_value(entry, sub: str | None):
    """A breakdown entry is a dict of metrics (read ``sub``) or a plain score (``sub`` None)."""
    if sub is None:
        return _number(entry)
    return _number(entry.get(sub)) if isinstance(entry, dict) else None


def breakdown_tables(rows: list[Row], measured: list[Row]) -> list[Table]:
    """One table per (task, dict-valued metric, entry): rows models, columns categories / manipulations / families."""
    tables = []
    clean = {t for r in measured for t in r.scores if split_task_name(t)[1] is None}
    for task in sorted(clean, key=_task_key):
        for metric in sorted({m for r in measured for m, v in r.scores.get(task, {}).items() if isinstance(v, dict)}):
            breakdowns = [v if isinstance(v := r.get(task, metric), dict) else {} for r in rows]  # files may disagree
            groups = sorted({g for r, b in zip(rows, breakdowns) if r.source == MEASURED for g in b})
            values = [[b.get(g) for g in groups] for b in breakdowns]
            for sub in (None, *BREAKDOWN_METRICS, *own_group_metrics(task)):
                cells = [[_entry_value(e, sub) for e in row] for row in values]
                if not any(c is not None for row, r in zip(cells, rows) if r.source == MEASURED for c in row):
                    continue
                what = "score" if sub is None else metric_label(sub, task)
                tables.append(Table(
                    f"{metric}_{task}" + ("" if sub is None else f"_{sub}"),
                    f"{_label(task)} {metric.replace('_', ' ')}: {what} (x100)",
                    groups,
                    rows,
                    cells,
                    task=task,
                ))
    return tables


def robustness_tables(measured: list[Row], metric: str = "acc") -> list[Table]:
    """Per base task with robustness variants: the metric clean and under each perturbation."""
    bases = sorted({split_task_name(t)[0] for r in measured for t in r.scores if split_task_name(t)[1] is not None}, key=_task_key)
    tables = []
    for base in bases:
        names = [p for p in PERTURBATIONS if any(f"{base}_{p}" in r.scores for r in measured)]
        tasks = [base] + [f"{base}_{p}" for p in names]
        tables.append(Table(
            f"robustness_{base}",
            f"{_label(base)} under perturbations: {metric_label(metric, base)} (x100)",
            ["clean"] + [f"{p} ({PERTURBATIONS[p].description})" for p in names],
            measured,
            [[_number(r.get(t, metric)) for t in tasks] for r in measured],
            [(t, metric) for t in tasks],
        ))
    return tables


def build_tables(measured: list[Row], *, with_paper: bool = False) -> list[Table]:
    rows = measured + (paper_rows() if with_paper else [])
    tables = [main_table(rows, measured)]
    tables += breakdown_tables(rows, measured)
    tables += robustness_tables(measured)
    if (unreadable := unreadable_table(measured)) is not None:
        tables.append(unreadable)
    return tables


# ------------------------------------------------------------------ uncertainty


@dataclass
class Uncertainty:
    """What the logged samples add: leaderboard.json's rows, the tests against each benchmark's best, the runs read."""

    rows: list[dict] = field(default_factory=list)
    significance: list[dict] = field(default_factory=list)
    runs: list[uncertainty.Run] = field(default_factory=list)

    def interval(self, model: str, task: str, metric: str) -> list[float] | None:
        return next((r["ci95"] for r in self.rows if (r["model"], r["task"], r["metric"]) == (model, task, metric)), None)

    def mark(self, model: str, task: str, metric: str) -> str | None:
        """"best" for the best model on a benchmark's headline metric, "tied" for those the test cannot tell from it."""
        tests = [s for s in self.significance if (s["task"], s["metric"]) == (task, metric) and s["tied_with_best"] is not None]
        if any(s["best"] == model for s in tests):
            return "best"
        return "tied" if any(s["model"] == model and s["tied_with_best"] for s in tests) else None


def measure_uncertainty(measured: list[Row], settings: uncertainty.Settings) -> Uncertainty:
    """Intervals for every run that logged its samples, and each clean benchmark's paired tests against its best."""
    u = Uncertainty()
    for row in measured:
        for task in sorted(row.scores, key=_task_key):
            run = uncertainty.load_run(row.model, task, row.files[task], row.scores[task], settings)
            u.rows += uncertainty.estimates(run, settings)
            u.runs.append(run)
    for task in sorted({r.task for r in u.runs if split_task_name(r.task)[1] is None}, key=_task_key):
        u.significance += uncertainty.significance([r for r in u.runs if r.task == task], settings)
    return u


def write_reliability(u: Uncertainty, out: Path) -> dict[str, Path]:
    """One reliability diagram per task with verdict scores on every detection doc: ``reliability_<task>.png``."""
    written = {}
    for task in sorted({r.task for r in u.runs}, key=_task_key):
        curves = {}
        for run in (r for r in u.runs if r.task == task and r.samples is not None):
            try:
                curves[run.model] = stats.calibration_data(run.samples.docs)
            except stats.Unavailable:
                continue
        if curves:
            path = written[f"reliability_{task}"] = files.inside(out, f"reliability_{task}", ".png")
            stats.reliability_diagram(curves, path, title=f"{_label(task)}: reliability of P(real)")
    return written


# ------------------------------------------------------------------------ output


_MD_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|", "\n": " ", "\r": " "})


def _md_escape(text: str) -> str:
    """A name from a results file as Markdown table text: no HTML, no cell break, no line break."""
    return str(text).translate(_MD_ESCAPES)


def _annotated(value, ci, mark, partial=None) -> str:
    """A Markdown cell: the value (bold if best, "≈" if tied with the best), its interval, and ``(n=12 of 5,000)``
    for a run over part of its set."""
    if value is None:
        return ""
    text = f"**{value:.1f}**" if mark == "best" else f"{value:.1f}" + (" ≈" if mark == "tied" else "")
    return text + (f" [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else "") + (f" ({partial})" if partial else "")


LEGEND = ("Brackets: 95% bootstrap interval from the logged samples (leaderboard.json says how each was computed). "
          "**Bold**: the best measured model on the benchmark's headline metric (Acc; AUC for FF++; LOKI's score for its own "
          "protocol); ≈: a paired test cannot tell it from the best (p >= 0.05; significance.csv has the tests).")


def _cell_notes(table: Table, row: Row, u: Uncertainty | None) -> list[tuple]:
    keys = table.keys or [None] * len(table.columns)
    if u is None or row.source != MEASURED:
        return [(None, None)] * len(keys)
    return [(None, None) if k is None else (u.interval(row.model, *k), u.mark(row.model, *k)) for k in keys]


def render_markdown(tables: list[Table], u: Uncertainty | None = None) -> str:
    """All tables as GitHub Markdown, one decimal as in the paper, blank where there is no value; intervals where known."""
    out = ["# FakeVLM leaderboard", ""]
    for t in tables:
        out += [f"## {t.title}", "", "| " + " | ".join(["Model", "Source", *map(_md_escape, t.columns)]) + " |",
                "|" + "---|" * (len(t.columns) + 2)]
        annotated = False
        for row, cells in zip(t.rows, t.cells):
            if all(c is None for c in cells):
                continue  # a paper row with nothing in this table's columns
            notes = _cell_notes(t, row, u)
            annotated |= any(ci or mark for ci, mark in notes)
            values = [_annotated(c, ci, mark, partial) for c, (ci, mark), partial in zip(cells, notes, t.marks(row))]
            out.append("| " + " | ".join([_md_escape(row.model), _md_escape(row.source), *values]) + " |")
        out += ["", LEGEND, ""] if annotated else [""]
    return "\n".join(out)


def write_csv(table: Table, path: Path, u: Uncertainty | None = None) -> None:
    """Full-precision values, an empty field where there is none; "<column> CI low/high" beside each column that has intervals."""
    notes = [_cell_notes(table, row, u) for row in table.rows]
    with_ci = [j for j in range(len(table.columns)) if any(n[j][0] for n in notes)]
    marks = [sorted({m for m in table.marks(row) if m}) for row in table.rows]
    header = ["model", "source"]
    for j, column in enumerate(table.columns):
        header += [column] + ([f"{column} CI low", f"{column} CI high"] if j in with_ci else [])
    header += ["partial run"] if any(marks) else []
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row, cells, row_notes, row_marks in zip(table.rows, table.cells, notes, marks):
            if all(c is None for c in cells):
                continue
            line = [row.model, row.source]
            for j, c in enumerate(cells):
                line.append("" if c is None else repr(c))
                if j in with_ci:
                    ci = row_notes[j][0]
                    line += ["", ""] if ci is None else [repr(ci[0]), repr(ci[1])]
            w.writerow(line + (["; ".join(row_marks)] if any(marks) else []))


SIGNIFICANCE_COLUMNS = ("task", "metric", "model", "value", "best", "best_value", "diff", "ci_low", "ci_high",
                        "p_value", "test", "tied_with_best", "reason")


def write_significance_csv(u: Uncertainty, path: Path) -> None:
    """Each model against its benchmark's best: diff (model - best), its interval, the test and its p."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, SIGNIFICANCE_COLUMNS)
        w.writeheader()
        for s in u.significance:
            low, high = s["ci95"] or (None, None)
            w.writerow({**{k: s.get(k) for k in SIGNIFICANCE_COLUMNS}, "ci_low": low, "ci_high": high})


def write_json_report(u: Uncertainty, settings: uncertainty.Settings, path: Path, *, measured: list[Row] = (),
                      merges: list[results.Merge] = ()) -> None:
    """leaderboard.json: settings, one row per (model, task, metric), the significance tests, what each run's samples
    lacked and over how much of its set it ran (``partial``), and which runs were merged or dropped."""
    marks = {(r.model, task): mark for r in measured for task, mark in r.marks.items()}
    runs = [{"model": r.model, "task": r.task, "results": str(r.results_path),
             "samples": None if r.samples is None else str(r.samples.path), "missing": r.missing, "notes": r.notes,
             "partial": marks.get((r.model, r.task))}
            for r in u.runs]
    data = {**settings.describe(), "rows": u.rows, "significance": u.significance, "runs": runs,
            "merged": [m.describe() for m in merges]}
    path.write_text(json.dumps(data, indent=2, allow_nan=False), encoding="utf-8")


def write_long_csv(measured: list[Row], path: Path) -> None:
    """Every scalar metric of every run, one per line (model, task, metric, value), for further analysis."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["model", "task", "metric", "value"])
        for r in measured:
            for task in sorted(r.scores, key=_task_key):
                for metric, v in sorted(r.scores[task].items()):
                    if (num := _number(v)) is not None:
                        w.writerow([r.model, task, metric, repr(num)])


def plot(tables: list[Table], path: Path) -> None:
    """Accuracy per benchmark (paper rows hatched) and, if present, accuracy under each perturbation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    main = tables[0]
    acc_cols = [j for j, c in enumerate(main.columns) if c.endswith(" Acc")]
    robust = [t for t in tables if t.slug.startswith("robustness_")]
    panels = ([("Accuracy per benchmark", [main.columns[j].removesuffix(" Acc") for j in acc_cols],
                [(row, [cells[j] for j in acc_cols]) for row, cells in zip(main.rows, main.cells)])] if acc_cols else [])
    panels += [(t.title, [c.split(" (")[0] for c in t.columns], list(zip(t.rows, t.cells))) for t in robust]
    if not panels:
        panels = [("No accuracy reported", [], [])]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 3.6 * len(panels)), squeeze=False)
    for ax, (title, groups, series) in zip(axes[:, 0], panels):
        series = [(row, vals) for row, vals in series if any(v is not None for v in vals)]
        width = 0.8 / max(1, len(series))
        for i, (row, vals) in enumerate(series):
            xs = [g + i * width for g, v in enumerate(vals) if v is not None]
            ys = [v for v in vals if v is not None]
            paper = row.source != MEASURED
            ax.bar(xs, ys, width, label=row.model, color=plt.cm.tab20.colors[i % 20], hatch="//" if paper else None, alpha=0.6 if paper else 1.0)
        ax.set_xticks([g + 0.4 - width / 2 for g in range(len(groups))], groups)
        ax.set_ylim(0, 100)
        ax.set_ylabel("x100")
        ax.set_title(title)
        if series:
            ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_leaderboard(paths, out_dir: str | Path, *, with_paper: bool = False,
                      settings: uncertainty.Settings | None = None) -> dict[str, Path]:
    """Read the results and their samples; write every table (Markdown + one CSV each), leaderboard.json, the
    significance CSV, the long CSV, the chart and a reliability diagram per task with verdict scores.

    Every results file is read before anything is written, and the files are written into a hidden folder that
    moves into ``out_dir`` at the end: a bad input or a failure leaves nothing partial there."""
    measured, merges = read_results(results.read_all(paths))
    if not measured:
        raise ValueError("no lmms-eval results JSON found in the given paths")
    results.print_merges(merges)
    settings = settings or uncertainty.Settings()
    u = measure_uncertainty(measured, settings)
    for run in u.runs:
        for note in run.notes:
            print(f"fakevlm-leaderboard: {run.model} / {run.task}: {note}", file=sys.stderr)
    if without := [r for r in u.runs if r.samples is None]:
        print(f"fakevlm-leaderboard: {len(without)} of {len(u.runs)} runs have no readable samples file, so no intervals "
              f"(e.g. {without[0].model} / {without[0].task}: {without[0].missing})", file=sys.stderr)
    tables = build_tables(measured, with_paper=with_paper)
    out = Path(out_dir)
    with files.staged(out) as stage:
        written = {"markdown": stage / "leaderboard.md", "json": stage / "leaderboard.json",
                   "significance": stage / "significance.csv", "all_metrics": stage / "all_metrics.csv",
                   "chart": stage / "leaderboard.png"}
        written["markdown"].write_text(render_markdown(tables, u), encoding="utf-8")
        for t in tables:
            written[t.slug] = files.inside(stage, t.slug, ".csv")
            write_csv(t, written[t.slug], u)
        write_json_report(u, settings, written["json"], measured=measured, merges=merges)
        write_significance_csv(u, written["significance"])
        write_long_csv(measured, written["all_metrics"])
        plot(tables, written["chart"])
        written.update(write_reliability(u, stage))
    return {key: out / path.name for key, path in written.items()}


# ------------------------------------------------------------------------ compare


def resolve_run(path: str | Path, task: str, settings: uncertainty.Settings) -> uncertainty.Run:
    """The run of ``task`` in a results file, or the newest in a folder of one configuration's runs; ValueError if ambiguous."""
    path = Path(path)
    found = [f for f in results.read_all([path]) if task in f.scores]
    if not found:
        raise ValueError(f"{path}: no results for task {task!r}")
    named = results.names(found)
    if len(models := sorted({named[(f.label, f.identity)] for f in found})) > 1:
        raise ValueError(f"{path} holds runs of {task} by several models ({', '.join(models)}): name one results file")
    f = max(found, key=lambda f: f.date)
    return uncertainty.load_run(models[0], task, f.path, f.scores[task], settings)


def compare(a_path, b_path, task: str, settings: uncertainty.Settings) -> dict:
    """``compare``'s report: the two runs, and per metric A - B with its interval, p-value and test."""
    a, b = (resolve_run(p, task, settings) for p in (a_path, b_path))
    metrics = uncertainty.interval_metrics({m: v for m, v in a.reported.items() if _number(v) is not None}, task)
    result = uncertainty.compare_runs(a, b, metrics, settings)
    docs = a.samples.docs
    return {
        "task": task,
        **settings.describe(),
        "a": {"model": a.model, "results": str(a.results_path), "samples": str(a.samples.path), "notes": a.samples.notes},
        "b": {"model": b.model, "results": str(b.results_path), "samples": str(b.samples.path), "notes": b.samples.notes},
        "n_docs": docs.n,
        "n_clusters": docs.n_clusters,
        "metrics": {m: uncertainty.comparison_fields(c) for m, c in result.items()},
    }


def _fmt(v, spec=".2f") -> str:
    return "" if v is None else format(v, spec)


def render_comparison(report: dict) -> str:
    """The comparison as a plain-text table."""
    lines = [f"{report['task']}: A = {report['a']['model']}, B = {report['b']['model']} "
             f"({report['n_docs']} docs, {report['n_clusters']} clusters; x100; {report['n_resamples']} resamples, seed {report['seed']})",
             f"{'metric':<14} {'A':>7} {'B':>7} {'A - B':>7}  {'95% CI':<17} {'p':>7}  test / reason"]
    for metric, c in report["metrics"].items():
        ci = "" if c["ci95"] is None else f"[{c['ci95'][0]:.2f}, {c['ci95'][1]:.2f}]"
        lines.append(f"{metric:<14} {_fmt(c['a']):>7} {_fmt(c['b']):>7} {_fmt(c['diff']):>7}  {ci:<17} "
                     f"{_fmt(c['p_value'], '.3g'):>7}  {c['test'] or c['reason']}")
    return "\n".join(lines)
