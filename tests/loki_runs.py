"""lmms-eval CLI runs of LOKI's own tasks (``loki_mc``, ``loki_explain``) on LOKI-format data,
shared by tests/test_loki_mc.py and tests/test_loki_explain.py.

Each (model, data) pair runs once per session, both tasks in one run, with the local server
of tests/test_judge.py grading every explanation with :data:`RUBRIC`. ``data`` is
``miniature`` (the loki benchmark's own miniature) or ``real`` (LOKI's real annotation files
with a placeholder image at every path they name).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from lmms_runs import data_dir, offline_env, prepare, results_of, run_cli, samples_of
from judge_server import running

TASKS = "loki_mc,loki_explain"
DUMMY_ANSWER = "B"  # lmms-eval's dummy model answers this to every question
RUBRIC = {"overall": 3, "completeness": 2, "correctness": 4, "plausibility": 1}
RUBRIC_REPLY = json.dumps({c: {"reason": "scripted", "score": s} for c, s in RUBRIC.items()})
#: Docs per task the tiny LLaVA answers on the real files (2 CPU cores: a full run takes too long).
REAL_LIMIT = 3
ANNOTATION_FILES = ("true_or_false.json", "multi_choice.json", "open_ended_vqa.json")


@dataclass
class Run:
    results: dict
    out: Path
    judge_requests: int
    data_root: Path

    def samples(self, task: str) -> list[dict]:
        """The logged samples, each with the prepared doc it answers under ``doc`` (the CLI logs none)."""
        from fakevlm_tasks.glue.docs import read_prepared

        with data_dir(self.data_root):
            docs = read_prepared(task)
        return [{**s, "doc": docs[s["doc_id"]]} for s in samples_of(self.out, task)]


_RUNS: dict[tuple[str, str], Run] = {}


def placeholder_media(annotations: Path, media: Path) -> Path:
    """A small image at every path LOKI's annotation files name (its images are not shipped):
    512 px for the explained fakes, whose boxes are in pixels of the originals, 8 px for the rest."""
    from fakevlm_tasks.glue.prepared import load_json

    explained = {r["image_path"] for r in load_json(annotations / "open_ended_vqa.json", "oe")}
    named = set(explained)
    for name in ("true_or_false.json", "multi_choice.json"):
        for record in load_json(annotations / name, name):
            paths = record["image_path"]
            named.update(paths if isinstance(paths, list) else [paths])
    for i, path in enumerate(sorted(named)):
        target = media / path
        target.parent.mkdir(parents=True, exist_ok=True)
        side = 512 if path in explained else 8
        Image.new("RGB", (side, side), (i % 256, 90, 140)).save(target, format="PNG" if target.suffix.lower() == ".png" else "JPEG")
    return media


def _prepare(tmp: Path, data: str, shared: Path | None) -> Path:
    from fakevlm_tasks.glue import benchmarks

    root = tmp / "prepared"
    if data == "miniature":
        argv = benchmarks.module("loki").write_miniature(tmp / "download")
    else:
        annotations = shared / "loki"
        argv = ["--annotations", str(annotations), "--images", str(placeholder_media(annotations, tmp / "media"))]
    prepare(root, "loki", *argv, "--strict")
    return root


def loki_run(tmp_path_factory, model: str, data: str, *, tiny_llava: Path | None = None, shared: Path | None = None) -> Run:
    """The run of ``model`` (``dummy`` or ``tiny``, the tiny LLaVA through the fakevlm adapter) on ``data``."""
    if (model, data) not in _RUNS:
        tmp = tmp_path_factory.mktemp(f"loki_{model}_{data}")
        root = _prepare(tmp, data, shared)
        out = tmp / "out"
        limit = ["--limit", str(REAL_LIMIT)] if model == "tiny" and data == "real" else []
        with running({None: [RUBRIC_REPLY]}, max_requests=1000) as server:
            env = offline_env(root, FAKEVLM_JUDGE_MODEL="judge-test", FAKEVLM_JUDGE_BASE_URL=server.base_url,
                              FAKEVLM_JUDGE_CACHE=str(tmp / "judge.sqlite"), FAKEVLM_JUDGE_RETRY_DELAY="0",
                              FAKEVLM_JUDGE_API_KEY_ENV="FAKEVLM_TEST_NO_SUCH_KEY")
            env.pop("FAKEVLM_PARSE_MODE", None)
            model_args = (["--model", "dummy", "--model_args", f"response={DUMMY_ANSWER}"] if model == "dummy" else
                          ["--model", "fakevlm", "--model_args", f"pretrained={tiny_llava},device=cpu,max_new_tokens=12",
                           "--batch_size", "4"])
            proc = run_cli([*model_args, "--tasks", TASKS, "--output_path", str(out), "--log_samples", *limit], env)
            _RUNS[model, data] = Run(results_of(out, proc)["results"], out, server.requests, root)
    return _RUNS[model, data]
