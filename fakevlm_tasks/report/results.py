"""Reading lmms-eval results JSONs, which are untrusted input (shared runs, downloaded leaderboards).

A file that is not a results JSON is a :class:`ResultsError` naming it (names from a file become file names only
through :mod:`fakevlm_tasks.report.files`). Runs are identified by their configuration (:func:`identity`): two
files are one leaderboard row only if the adapter, the checkpoint (and revision) and every generation-relevant model
argument match; a run over part of its set (``--limit``) is marked and never replaces a complete one.
:func:`check` lists the tasks a run requested that its results lack, and the runs an lmms-eval log says were lost
(lmms-eval exits 0 after "Error during evaluation").
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from fakevlm_tasks.report.tables import Row

RESULTS_GLOB = "*_results.json"
#: Model args that change how a run executes, not what it answers: runs differing only in these are one row.
EXECUTION_ONLY = frozenset({
    "device", "device_map", "batch_size", "max_batch_size", "prefetch", "attn_implementation", "use_flash_attention_2",
    "parallelize", "num_concurrent", "num_workers", "num_processes", "timeout", "max_retries", "base_url", "api_key",
    "token", "cache_dir", "trust_remote_code", "low_cpu_mem_usage", "continual_mode", "response_persistent_folder",
    "tensor_parallel_size", "data_parallel_size", "gpu_memory_utilization", "verbosity",
})
#: Model args naming the weights, in the order they are looked for.
WEIGHTS_ARGS = ("pretrained", "model_version", "model", "model_name", "path")
#: The lmms-eval model that answers from a prediction file (fakevlm_model.replay).
REPLAY = "replay"
_LONG_VALUE = 40


class ResultsError(ValueError):
    """A results file that cannot be read as an lmms-eval results JSON; the message names the file."""


# ---------------------------------------------------------------------------------- reading


def find_results(paths) -> list[Path]:
    """Every results JSON named by ``paths``: files as given, folders searched recursively."""
    found = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(sorted(p.rglob(RESULTS_GLOB)))
        elif p.is_file():
            found.append(p)
        else:
            raise FileNotFoundError(f"no such results file or folder: {p}")
    return found


def _no_infinity(path: Path):
    def parse_constant(name: str):
        if name == "NaN":
            return math.nan  # lmms-eval writes NaN for a metric it could not compute: read as missing
        raise ResultsError(f"{path}: holds {name}, which no metric can be; the file is damaged or was not written by lmms-eval")
    return parse_constant


def load_json(path: Path) -> dict:
    """The JSON object in ``path``; a clear error naming the file for anything else (truncated, not UTF-8, a list)."""
    try:
        data = json.loads(Path(path).read_bytes().decode("utf-8"), parse_constant=_no_infinity(path))
    except UnicodeDecodeError as exc:
        raise ResultsError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); is it truncated?") from exc
    except RecursionError as exc:
        raise ResultsError(f"{path}: nested too deeply to be an lmms-eval results JSON") from exc
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise ResultsError(f"{path} is not an lmms-eval results JSON (no 'results' object)")
    for task, metrics in data["results"].items():
        if not isinstance(metrics, dict):
            raise ResultsError(f"{path}: results[{task!r}] is a {type(metrics).__name__}, not an object of metrics")
    return data


def _object(value) -> dict:
    return value if isinstance(value, dict) else {}


def model_args(args) -> dict[str, str]:
    """``--model_args`` as lmms-eval logs it (a ``k=v,...`` string or a dict) as {name: value}."""
    if isinstance(args, dict):
        return {str(k): str(v) for k, v in args.items()}
    pairs = (part.split("=", 1) for part in str(args or "").split(",") if "=" in part)
    return {k.strip(): v.strip() for k, v in pairs}


def replayed_label(args: dict[str, str]) -> str:
    """A ``--model replay`` run's name: its ``name=``, marked replayed with the prediction file's sha256.

    The hash is the ``sha256=`` the run checked the file against; without one, the file's hash now if the file is
    still where the run read it (lmms-eval's results JSON has no field a model could record it in). Only a regular
    file is read: the path comes from an untrusted results JSON.
    """
    predictions = Path(args.get("predictions", ""))
    name = args.get("name") or predictions.name or REPLAY
    digest = args.get("sha256")
    if not digest:
        try:
            digest = hashlib.sha256(predictions.read_bytes()).hexdigest() if predictions.is_file() else None
        except OSError:
            digest = None
    if not digest:
        return f"{name} (replayed from {predictions.name or '?'}; file not found here, no hash)"
    return f"{name} (replayed, sha256 {digest[:12]})"


def model_label(results: dict) -> str:
    """``"<checkpoint> (<--model>)"`` from the results' config, e.g. ``"Qwen/Qwen2-VL-7B-Instruct (qwen2_vl)"``;
    a replayed run is named by :func:`replayed_label`."""
    config = _object(results.get("config"))
    adapter = str(config.get("model") or "unknown model")
    args = model_args(config.get("model_args"))
    if adapter == REPLAY:
        return replayed_label(args)
    weights = next((args[k] for k in WEIGHTS_ARGS if args.get(k)), None) or results.get("model_name")
    return f"{weights} ({adapter})" if weights and weights != adapter else adapter


def identity(results: dict) -> tuple[tuple[str, str], ...]:
    """What makes two runs the same configuration: every model arg but :data:`EXECUTION_ONLY`, and ``--gen_kwargs``."""
    config = _object(results.get("config"))
    args = {k: v for k, v in model_args(config.get("model_args")).items() if k not in EXECUTION_ONLY}
    if config.get("gen_kwargs"):
        args["gen_kwargs"] = str(config["gen_kwargs"])
    return tuple(sorted(args.items()))


def _shown(value: str) -> str:
    """A model arg's value as a row name shows it: a long one (a dummy model's response) cut, with a hash."""
    if len(value) <= _LONG_VALUE:
        return value
    return f"{value[:_LONG_VALUE - 10]}…{hashlib.sha256(value.encode('utf-8', 'surrogatepass')).hexdigest()[:6]}"


def run_name(label: str, differing: dict[str, str | None]) -> str:
    """A row's name: its :func:`model_label`, with the model args in which it differs from runs of the same label
    (``lingcco/fakeVLM (fakevlm, prompt_format=train)``; ``(unset)`` where this run did not set one)."""
    if not differing:
        return label
    args = ", ".join(f"{k}={'(unset)' if v is None else _shown(v)}" for k, v in sorted(differing.items()))
    if label.endswith(")"):
        return f"{label[:-1]}, {args})"
    return f"{label} ({args})"


@dataclass
class ResultsFile:
    """One results JSON: who ran what, when, over how many docs, and its scores (stderr and aliases dropped)."""

    path: Path
    label: str
    identity: tuple
    date: str
    scores: dict  # task -> {metric name: value}: the numbers and dicts the file reports
    configs: dict
    n_samples: dict  # task -> (docs evaluated, docs in the set)
    limit: object = None
    requested: list[str] = field(default_factory=list)
    group_subtasks: dict = field(default_factory=dict)

    def partial(self, task: str) -> str | None:
        """``"n=12 of 5,000"`` for a task evaluated on part of its set (``--limit``, or fewer docs than prepared)."""
        effective, original = self.n_samples.get(task, (None, None))
        if effective is not None and original is not None and effective < original:
            return f"n={effective:,} of {original:,}"
        if self.limit not in (None, "", 0) and effective is None:
            return f"--limit {self.limit}"
        return None


def _count(v) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def _value(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return None if math.isnan(v) else float(v)
    if isinstance(v, dict):
        return v
    return None


def _requested(config: dict) -> list[str]:
    tasks = _object(config.get("resolved_cli_args")).get("tasks")
    if isinstance(tasks, str):
        return [t.strip() for t in tasks.split(",") if t.strip()]
    return [str(t) for t in tasks] if isinstance(tasks, list) else []


def read(path: Path) -> ResultsFile:
    """One results JSON, validated (:func:`load_json`)."""
    data = load_json(path)
    config = _object(data.get("config"))
    scores = {}
    for task, metrics in data["results"].items():
        kept = {}
        for key, v in metrics.items():
            name = key.split(",", 1)[0]
            if name == "alias" or "_stderr" in name:  # lmms-eval's acc_stderr, acc_stderr_clt, ...
                continue
            if (value := _value(v)) is not None:
                kept[name] = value
        scores[task] = kept
    n_samples = {str(t): (_count(_object(n).get("effective")), _count(_object(n).get("original")))
                 for t, n in _object(data.get("n-samples")).items()}
    return ResultsFile(Path(path), model_label(data), identity(data), str(data.get("date", "")), scores,
                       {str(t): _object(c) for t, c in _object(data.get("configs")).items()}, n_samples,
                       config.get("limit"), _requested(config), _object(data.get("group_subtasks")))


def read_all(paths) -> list[ResultsFile]:
    """Every results file named by ``paths``, all read before anything is written (one bad file stops the run)."""
    return [read(p) for p in find_results(paths)]


# ----------------------------------------------------------------------------------- merging


@dataclass
class Merge:
    """A task of one configuration found in several files: which was used, which dropped, and why."""

    model: str
    task: str
    used: Path
    dropped: Path
    why: str

    def describe(self) -> dict:
        return {"model": self.model, "task": self.task, "used": str(self.used), "dropped": str(self.dropped), "why": self.why}

    def __str__(self) -> str:
        return f"{self.model} / {self.task}: using {self.used}, dropping {self.dropped} ({self.why})"


def names(files: list[ResultsFile]) -> dict[tuple, str]:
    """{(label, identity): row name}: a label's configurations named by the model args in which they differ."""
    by_label: dict[str, set[tuple]] = {}
    for f in files:
        by_label.setdefault(f.label, set()).add(f.identity)
    out = {}
    for label, identities in by_label.items():
        as_dicts = {ident: dict(ident) for ident in identities}
        keys = {k for d in as_dicts.values() for k in d}
        differing = {k for k in keys if len({d.get(k) for d in as_dicts.values()}) > 1}
        for ident, d in as_dicts.items():
            out[(label, ident)] = run_name(label, {k: d.get(k) for k in differing})
    return out


def _preference(f: ResultsFile, task: str) -> tuple:
    """Complete runs first, then the newest."""
    return (f.partial(task) is None, f.date)


def merge(files: list[ResultsFile]) -> tuple[list[Row], list[Merge]]:
    """One row per configuration, tasks merged across its files; for a task seen twice a complete run beats a
    partial one, then the newer wins."""
    rows: dict[str, Row] = {}
    chosen: dict[tuple[str, str], ResultsFile] = {}
    merges: list[Merge] = []
    named = names(files)
    for f in files:
        model = named[(f.label, f.identity)]
        row = rows.setdefault(model, Row(model))
        for task, kept in f.scores.items():
            previous = chosen.get((model, task))
            if previous is not None:
                winner, loser = (f, previous) if _preference(f, task) > _preference(previous, task) else (previous, f)
                why = (f"{loser.partial(task)}, a complete run exists" if loser.partial(task) and not winner.partial(task)
                       else f"older: {loser.date or 'undated'} vs {winner.date or 'undated'}")
                merges.append(Merge(model, task, winner.path, loser.path, why))
                if winner is previous:
                    continue
            chosen[(model, task)] = f
            row.scores[task] = kept
            row.files[task] = f.path
            row.marks.pop(task, None)
            if mark := f.partial(task):
                row.marks[task] = mark
    return list(rows.values()), merges


def print_merges(merges: list[Merge], prog: str = "fakevlm-leaderboard") -> None:
    for m in merges:
        print(f"{prog}: {m}", file=sys.stderr)


# ------------------------------------------------------------------------------------ check


@dataclass
class Missing:
    """A task a run requested that its results file lacks."""

    results: Path
    task: str
    evidence: str

    def __str__(self) -> str:
        return f"{self.results}: no results for {self.task}, which the run requested ({self.evidence})"


def _samples_tasks(f: ResultsFile) -> list[str]:
    stem = f.path.name.removesuffix("_results.json")
    return sorted(p.name.removeprefix(f"{stem}_samples_").removesuffix(".jsonl")
                  for p in f.path.parent.glob(f"{glob_escape(stem)}_samples_*.jsonl"))


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _covered(f: ResultsFile) -> set[str]:
    """The names a results file answers for: its tasks, its groups, and the tags its task configs carry."""
    names = set(f.scores) | set(f.group_subtasks)
    for config in f.configs.values():
        tags = config.get("tag")
        names.update([tags] if isinstance(tags, str) else [str(t) for t in tags] if isinstance(tags, list) else [])
    return names


def missing_tasks(f: ResultsFile) -> list[Missing]:
    """Tasks requested by ``--tasks``, configured, or with a samples file beside ``f``, that ``f`` has no results for."""
    covered, out = _covered(f), {}
    for task in f.requested:
        if task not in covered:
            out.setdefault(task, Missing(f.path, task, "in its --tasks"))
    for task in f.configs:
        if task not in f.scores and task not in f.group_subtasks:
            out.setdefault(task, Missing(f.path, task, "it has the task's config"))
    for task in _samples_tasks(f):
        if task not in f.scores:
            out.setdefault(task, Missing(f.path, task, "its samples file is beside it"))
    return list(out.values())


#: What lmms-eval's log says before a run (``Selected Tasks: ['fakeclue', 'loki']``) and when the run is lost.
_SELECTED = re.compile(r"Selected Tasks: (\[.*\])")
_ERROR = re.compile(r"Error during evaluation: (.*?)(?:\. Please set `--verbosity=DEBUG`.*)?$")


@dataclass
class LoggedError:
    """An "Error during evaluation" in an lmms-eval log: the run wrote no results, yet lmms-eval exited 0."""

    log: Path
    line: int
    tasks: list[str]
    error: str

    def __str__(self) -> str:
        lost = ", ".join(self.tasks) if self.tasks else "the run's tasks"
        return f"{self.log}:{self.line}: lmms-eval logged an evaluation error, so {lost} got no results: {self.error}"


def logged_errors(log: Path) -> list[LoggedError]:
    """Each evaluation error in an lmms-eval log (its console output), with the tasks the run had selected."""
    import ast

    try:
        text = Path(log).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise FileNotFoundError(f"{log}: cannot be read ({exc.strerror or exc})") from exc
    found, tasks = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if selected := _SELECTED.search(line):
            try:
                tasks = [str(t) for t in ast.literal_eval(selected.group(1))]
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                tasks = []
        elif error := _ERROR.search(line):
            found.append(LoggedError(Path(log), number, tasks, error.group(1)))
    return found


def check(paths, logs=()) -> list[Missing | LoggedError]:
    """:func:`missing_tasks` of every results file named by ``paths``, and the evaluation errors in ``logs``."""
    return [m for f in read_all(paths) for m in missing_tasks(f)] + [e for log in logs for e in logged_errors(log)]
