"""Benchmarks are folders: discovery of every ``benchmark.py`` and the declaration each one makes.

A benchmark folder holds its task YAML(s), a README and one ``benchmark.py`` that defines
the hooks its YAMLs name (docs, prompts, records) and sets ``BENCHMARK = Benchmark(...)``:
how to prepare the official download, its headline metrics, the paper's numbers, the robustness variants it wants, and a
miniature writer of its official format for tests. Everything central (``fakevlm-data``,
the "not prepared" errors, the leaderboard, the generic tests, the variants) reads these
declarations, so a new benchmark edits no file outside its folder.

Where benchmarks are found, in this order (a later folder with the same name is an error):

* the built-in folders under ``fakevlm_tasks/tasks/``;
* every folder on ``$FAKEVLM_BENCHMARKS`` (``os.pathsep``-separated): a folder holding a
  ``benchmark.py`` is one benchmark, and each sub-folder holding one is another. These
  folders are also added to lmms-eval's task index (``fakevlm_tasks.glue.registration``), so
  ``lmms-eval --tasks <your task>`` finds them without ``--include_path``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from fakevlm_tasks import TASKS_DIR
from fakevlm_tasks.glue.perturb import split_task_name

BENCHMARKS_ENV = "FAKEVLM_BENCHMARKS"
MODULE_FILE = "benchmark.py"
#: What a task can ask, and so what its per-doc record holds (docs/protocol.md, "The per-sample record"):
#: ``detection``, a real/fake verdict on an image (``verdict`` against ``label``); ``judgment``, a yes/no question
#: on whether the image is real or fake (``read``, the benchmark's own reading, against ``answer``; ``robust``, the
#: robust parser's); ``choice``, a pick among lettered options (``read`` against ``answer``, the ``rule`` that read it,
#: ``fallback``); ``rubric``, an explanation a judge grades (``rubric``: criterion -> grade).
QUESTION_KINDS = ("detection", "judgment", "choice", "rubric")

@dataclass(frozen=True)
class PaperRows:
    """Numbers a paper reports for this benchmark: ``rows[model][metric]`` (x100), from ``table``."""

    table: str
    rows: Mapping[str, Mapping[str, float]]
    task: str | None = None  # which of the benchmark's tasks the numbers are comparable with; default: its first


@dataclass(frozen=True)
class HubSource:
    """Where a benchmark's official files are in a Hugging Face Hub dataset repo, per split.

    ``annotations[split]``: the repo paths of its annotation files (the first is required; given several,
    the preparer gets their folder); ``archives[split]``: the zip of its images. ``image_paths(annotations)``
    lists the image paths those annotations name, from which the download finds where in the archive they
    point. ``annotations_elsewhere``: when the repo does not carry the annotations, the command that fetches
    them and the ``--annotations`` path it leaves. ``evaluated``: the split the tasks evaluate (the
    others are downloaded for training and not prepared). The preparer is then run with ``--annotations``
    (the file, or the folder of several) and ``--images`` (the extracted image root).
    """

    repo_id: str
    annotations: Mapping[str, tuple[str, ...]]
    archives: Mapping[str, str]
    image_paths: Callable[[Path], list[str]]
    annotations_elsewhere: tuple[str, str] | None = None
    revision: str = "main"
    evaluated: str = "test"


@dataclass(frozen=True)
class Benchmark:
    """What only Python can say about one benchmark (the YAML says the rest).

    ``prepare(args) -> list[PrepareReport]`` reads the official download with the options
    ``add_arguments(parser)`` defines; ``prepare_hint`` is the command line shown when a
    task finds nothing prepared. ``datasets``: the prepared sets it writes (default: its
    name). ``tasks``: the lmms-eval tasks its YAMLs define. ``headline``: per task, the
    metrics a leaderboard shows first. ``labels``: display names of metrics and of tasks
    other than the first. ``groups``: what the per-group metrics break the docs down by. (Prompts are
    the folder's ``doc_to_text = prompted({family: suffix})`` hook.) ``variants``: perturbation names (``fakevlm_tasks.glue.perturb.PERTURBATIONS``) to generate
    variant tasks for, per task. ``write_miniature(root) -> argv``: writes a tiny copy of
    the official format under ``root`` and returns the ``fakevlm-data prepare <name>``
    arguments that prepare it (the generic tests run it). ``hub``: where its files are on the Hugging Face Hub. ``asks``: per task, the kind of question it asks
    (:data:`QUESTION_KINDS`), which the report layer and the detector read instead of the task's name;
    ``statistics``: the stats kernels of metrics of its own; ``group_metrics``: those of its own metrics that it
    also reports per group (the leaderboard knows the generic ones: ``acc_<group>``, ``auc_<group>``, ...).
    """

    name: str
    title: str
    prepare: Callable[[argparse.Namespace], list]
    add_arguments: Callable[[argparse.ArgumentParser], None]
    prepare_hint: str
    tasks: tuple[str, ...]
    headline: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    datasets: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    paper: tuple[PaperRows, ...] = ()
    variants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    groups: str = "category"  # what its per-group metrics break the docs down by (category, manipulation, family)
    ranking: Mapping[str, str] = field(default_factory=dict)  # task -> the metric that ranks models ("acc" if absent)
    write_miniature: Callable[[Path], list[str]] | None = None
    # task -> its metrics (fakevlm_tasks.glue.metric_lists.Metric), the one declaration its YAML's metric_list is
    # generated from and its process_results is built with.
    metrics: Mapping[str, tuple] = field(default_factory=dict)
    hub: HubSource | None = None  # where its data is on the Hub: `fakevlm-data download` and a task's first use fetch it
    asks: Mapping[str, str] = field(default_factory=dict)  # task -> its QUESTION_KINDS entry ("detection" if absent)
    # metric -> its kernel for fakevlm_tasks.scoring.stats ((PerDoc, Weights) -> a value per resample), for the
    # metrics of its own that the generic table lacks: they get intervals and paired tests like the others.
    statistics: Mapping[str, Callable] = field(default_factory=dict)
    group_metrics: tuple[str, ...] = ()  # metrics of its own it also reports per group, as <metric>_<group>
    folder: Path | None = None  # set by discovery

    def __post_init__(self):
        if unknown := {t: k for t, k in self.asks.items() if t not in self.tasks or k not in QUESTION_KINDS}:
            raise BenchmarkError(f"benchmark {self.name!r}: asks {unknown} names a task it does not define or a kind "
                                 f"of question not in {QUESTION_KINDS}")
        if stray := sorted(set(self.metrics) - set(self.tasks)):
            raise BenchmarkError(f"benchmark {self.name!r}: metrics are declared for {stray}, which it does not define")

    def question(self, task: str) -> str:
        """What ``task`` (a variant: its base task) asks: a :data:`QUESTION_KINDS` entry."""
        return self.asks.get(split_task_name(task)[0], self.asks.get(task, "detection"))

    @property
    def prepared_sets(self) -> tuple[str, ...]:
        return self.datasets or (self.name,)

    def prepare_command(self) -> str:
        return f"fakevlm-data prepare {self.name} {self.prepare_hint}".rstrip()


class BenchmarkError(ValueError):
    """A benchmark folder cannot be used; the message names the folder and what is wrong."""


def benchmark_dirs() -> list[Path]:
    """Every benchmark folder: the built-in ones, then those under ``$FAKEVLM_BENCHMARKS`` (read now)."""
    roots = [TASKS_DIR] + [Path(p).expanduser() for p in os.environ.get(BENCHMARKS_ENV, "").split(os.pathsep) if p]
    found = []
    for root in roots:
        if not root.is_dir():
            raise BenchmarkError(f"${BENCHMARKS_ENV} names {root}, which is not a folder")
        if (root / MODULE_FILE).is_file():
            found.append(root)
        found += sorted(d for d in root.iterdir() if d.is_dir() and (d / MODULE_FILE).is_file())
    return found


def external_dirs() -> list[str]:
    """The folders on ``$FAKEVLM_BENCHMARKS``, for lmms-eval's task index."""
    return [str(Path(p).expanduser()) for p in os.environ.get(BENCHMARKS_ENV, "").split(os.pathsep) if p]


#: Discovery loads each benchmark.py under this prefix (lmms-eval loads it again, as ``benchmark``, beside its YAML).
MODULE_PREFIX = "fakevlm_benchmark_"


def _load_module(folder: Path) -> ModuleType:
    name = f"{MODULE_PREFIX}{abs(hash(str(folder.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, folder / MODULE_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[name]
        raise
    return module


def discover() -> dict[str, Benchmark]:
    """{name: Benchmark} for every benchmark folder, in discovery order."""
    out: dict[str, Benchmark] = {}
    for folder in benchmark_dirs():
        module = _load_module(folder)
        bench = getattr(module, "BENCHMARK", None)
        if not isinstance(bench, Benchmark):
            raise BenchmarkError(f"{folder / MODULE_FILE} defines no BENCHMARK = Benchmark(...)")
        if bench.name in out:
            raise BenchmarkError(f"two benchmark folders are named {bench.name!r}: {out[bench.name].folder} and {folder}")
        out[bench.name] = _with_folder(bench, folder)
    return out


def _with_folder(bench: Benchmark, folder: Path) -> Benchmark:
    from dataclasses import replace

    return replace(bench, folder=folder)


def get(name: str) -> Benchmark:
    """One benchmark by name; the error lists the known ones."""
    known = discover()
    if name not in known:
        raise BenchmarkError(f"no benchmark {name!r}; known: {', '.join(known)}")
    return known[name]


def module(name: str) -> ModuleType:
    """The ``benchmark.py`` module of a benchmark (one benchmark may build on another's layout).

    Found by its folder's name first, so that a benchmark module may call this while it is
    itself being discovered.
    """
    for folder in benchmark_dirs():
        if folder.name == name:
            return _load_module(folder)
    return _load_module(get(name).folder)


def prepare_command(dataset: str) -> str:
    """The command that writes the prepared set ``dataset``, for "not prepared" errors."""
    try:
        for bench in discover().values():
            if dataset in bench.prepared_sets:
                return bench.prepare_command()
    except Exception:  # a broken user folder must not hide the real error
        pass
    return f"fakevlm-data prepare {dataset} ..."


def task_benchmark(task: str) -> Benchmark | None:
    """The benchmark that defines lmms-eval task ``task`` (variants included), or None."""
    base, _ = split_task_name(task)
    for bench in discover().values():
        if task in bench.tasks or base in bench.tasks:
            return bench
    return None


def question_kind(task: str) -> str | None:
    """What ``task`` asks (:data:`QUESTION_KINDS`) by its benchmark's declaration; None for a task no benchmark declares."""
    bench = task_benchmark(task)
    return bench.question(task) if bench else None
