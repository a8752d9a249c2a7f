"""Synthetic lmms-eval runs of FakeClue-format tasks: a results JSON and its ``--log_samples`` file, made by the
task's own ``process_results`` and aggregations, as lmms-eval 0.7.3 writes them (for the site's tests and benchmark)."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from PIL import Image

from fakevlm_tasks.glue import benchmarks
from fakevlm_tasks.glue.sample import Answer, VerdictScore

#: Metrics whose aggregation needs the CSS sentence encoder: left out (a real run without it reports them null).
NEEDS_ENCODER = ("css", "css_evidence", "css_encoder")
EVIDENCE = {"real": ["natural fur", "consistent shadows", "sharp text", "even sensor noise"],
            "fake": ["smeared fur", "a checkerboard pattern", "garbled text", "melted edges"]}


def write_images(folder: Path, n: int, *, size: int = 64, suffix: str = ".png", noise: float = 40, seed: int = 0) -> list[Path]:
    """``n`` noisy images with a coloured block each (real-looking images are not needed, only decodable ones)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        image = Image.effect_noise((size, size), noise).convert("RGB")
        image.paste(tuple(rng.randrange(256) for _ in range(3)), (8, 8, size // 2, size // 2))
        paths.append(folder / f"{i:05d}{suffix}")
        image.save(paths[-1])
    return paths


def fakeclue_docs(images: list[Path], *, seed: int = 0) -> list[dict]:
    """Prepared FakeClue records for ``images``: alternating labels, categories in turn, a reference explanation each."""
    rng = random.Random(seed)
    categories = benchmarks.module("fakeclue").CATEGORIES
    docs = []
    for i, image in enumerate(images):
        label = "fake" if i % 3 else "real"
        docs.append({"id": f"{categories[i % len(categories)]}/{label}/{image.name}", "image": str(image), "label": label,
                     "category": categories[i % len(categories)], "question": "Does the image looks real/fake?",
                     "reference": f"This is a {label} image. It shows {rng.choice(EVIDENCE[label])}."})
    return docs


def answer(doc: dict, *, right: bool, rng: random.Random, unreadable: bool = False, p_real: float | None = None,
           details: int = 0) -> Answer:
    """A model's answer to ``doc``: the verdict sentence (right or wrong) and some evidence, then ``details`` more
    sentences about regions of the image; unreadable: no verdict."""
    verdict = doc["label"] if right else {"real": "fake", "fake": "real"}[doc["label"]]
    text = (f"I see {rng.choice(EVIDENCE[verdict])}." if unreadable
            else f"This is a {verdict} image. It shows {rng.choice(EVIDENCE[verdict])} and {rng.choice(EVIDENCE[verdict])}.")
    text += "".join(f" Region {rng.randrange(100)} has {rng.choice(EVIDENCE[verdict])}." for _ in range(details))
    score = None if p_real is None else VerdictScore(p_real=p_real, p_fake=1 - p_real)
    return Answer(text, score)


def write_run(folder: Path, model: str, docs: list[dict], answers: list[Answer], *, task: str = "fakeclue",
              date: str = "20250101_000000") -> Path:
    """``<date>_results.json`` and ``<date>_samples_<task>.jsonl`` of ``model`` (``--model fakevlm``,
    ``pretrained=<model>``) answering ``docs``; returns the results path."""
    bench = benchmarks.module("fakeclue")
    prompt = bench.doc_to_text(docs[0], {"family": "general"}) if docs else ""
    outs = [bench.process_results(doc, [a]) for doc, a in zip(docs, answers)]
    metrics = [m for m in bench.METRICS if m.name not in NEEDS_ENCODER]
    results = {}
    for metric in metrics:
        value = metric.aggregation([out[metric.name] for out in outs])
        if value is not None:
            results[f"{metric.name},none"] = value
    # The results config lists a per-group metric's group, as lmms-eval copies it from the task YAML.
    groups = [{"metric": m.name, "aggregation": f"<function {m.aggregation.__name__} at 0x1>", "group": m.group}
              for m in metrics if m.group is not None]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{date}_results.json"
    path.write_text(json.dumps({"results": {task: results}, "configs": {task: {"metric_list": groups}}, "date": date,
                                "config": {"model": "fakevlm", "model_args": f"pretrained={model}"}}), encoding="utf-8")
    with open(folder / f"{date}_samples_{task}.jsonl", "w", encoding="utf-8") as f:
        for i, (doc, a, out) in enumerate(zip(docs, answers, outs)):
            line = {"doc_id": i, "target": doc["label"], "filtered_resps": str(a),
                    "doc_hash": hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest(),
                    "input_media": [doc["image"]], **out, "input": prompt}
            f.write(json.dumps(line) + "\n")
    return path
