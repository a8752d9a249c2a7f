"""LOKI (ICLR 2025): the hooks of ``loki`` (FakeVLM's protocol: one verdict per image) and the benchmark's
declaration. LOKI's own protocols live in the folder's other modules (``fakevlm_tasks/tasks/loki/__init__.py``
lists them), which the YAMLs name directly.
"""

from __future__ import annotations

from fakevlm_tasks import hooks
from fakevlm_tasks.hooks import DETECTION_PROMPTS, Benchmark, HubSource, PaperRows, load_json, prompted
from fakevlm_tasks.tasks.loki import choice, explain, judgment, score
from fakevlm_tasks.tasks.loki.prepare import CATEGORIES, MC_FILE, OE_FILE, TF_FILE, add_arguments, run, write_miniature

METRICS = hooks.DETECTION_METRICS + hooks.per_group("acc", hooks.agg_acc, CATEGORIES, "accuracy on this category's images")

process_docs = hooks.prepared_docs("loki")
doc_to_text = prompted(DETECTION_PROMPTS)
process_results = hooks.detection_results(METRICS)

#: Table 2: FakeVLM's protocol on LOKI (Acc, F1, ROUGE-L, CSS).
_TABLE2 = {
    "Deepseek-VL2-small": (25.3, 38.7, 16.4, 39.1), "Deepseek-VL2": (43.1, 39.2, 16.9, 38.8),
    "InternVL2-8B": (52.6, 34.0, 17.9, 47.2), "InternVL2-40B": (50.7, 37.6, 18.4, 47.3),
    "Qwen2-VL-7B": (57.1, 35.0, 18.2, 38.4), "Qwen2-VL-72B": (55.4, 40.9, 17.3, 43.2),
    "GPT-4o (2024-08-06)": (63.4, 57.2, 14.7, 35.4), "CNNSpot": (43.1, 11.4, None, None),
    "FreqNet": (58.9, 50.6, None, None), "Fatformer": (58.8, 48.4, None, None), "UnivFD": (49.0, 35.8, None, None),
    "AIDE (trained on FakeClue)": (65.6, 80.2, None, None), "NPR (trained on FakeClue)": (77.4, 80.0, None, None),
    "FakeVLM": (84.3, 83.7, 20.1, 58.2),
}
#: Table 8: FakeVLM's LOKI accuracy per category.
_TABLE8 = {"sence": 98.9, "animals": 89.7, "person": 73.8, "object": 94.1, "medicine": 69.3, "doc": 85.0, "satellite": 97.2}


def hub_image_paths(annotations) -> list[str]:
    """The image paths LOKI's yes/no questions name (``media_data/image/...``), to find them in the media archive."""
    data = load_json(annotations / TF_FILE, "loki true_or_false")
    return [str(r["image_path"]) for r in data if isinstance(r, dict) and "image_path" in r] if isinstance(data, list) else []


#: The media archive is on the Hub (``bczhou/LOKI``, which held no annotations at revision 314ddac); the annotations
#: are in LOKI's GitHub repository, which has no licence file, so they are not shipped: the user clones it.
HUB = HubSource(
    repo_id="bczhou/LOKI",
    annotations={"test": tuple(f"data_json/image/{f}" for f in (TF_FILE, OE_FILE, MC_FILE))},
    archives={"test": "media_data.zip"},  # ~7.6 GB: loki_media_aggregate/, which the annotations call media_data/
    image_paths=hub_image_paths,
    annotations_elsewhere=("git clone https://github.com/opendatalab/LOKI", "LOKI/data_json/image"),
)

BENCHMARK = Benchmark(
    name="loki",
    title="LOKI",
    prepare=run,
    add_arguments=add_arguments,
    prepare_hint="--annotations <LOKI's data_json/image> --images <LOKI root containing media_data/>",
    tasks=("loki", "loki_judgment", "loki_mc", "loki_explain"),
    datasets=("loki", "loki_judgment", "loki_mc", "loki_explain"),
    headline={"loki": ("acc", "f1", "rouge_l", "css"), "loki_judgment": ("loki_score", "acc"),
              "loki_mc": ("loki_score", "acc"), "loki_explain": ("rubric_total",)},
    labels={"loki_judgment": "LOKI (own protocol)", "loki_mc": "LOKI (multiple choice)", "loki_explain": "LOKI (explanations, judged)",
            "loki_score": "LOKI score", "rubric_total": "LOKI rubric (0-20)"},
    ranking={"loki_judgment": "loki_score", "loki_mc": "loki_score"},
    paper=(
        PaperRows("Table 2", {m: {k: v for k, v in zip(("acc", "f1", "rouge_l", "css"), vals) if v is not None} for m, vals in _TABLE2.items()}),
        PaperRows("Table 8", {"FakeVLM": {f"acc_{c}": v for c, v in _TABLE8.items()}}),
    ),
    variants={"loki": ("jpeg50", "resize50", "blur2", "noise10", "grey", "lowpass", "highpass")},
    write_miniature=write_miniature,
    metrics={"loki": METRICS, "loki_judgment": judgment.METRICS, "loki_mc": choice.METRICS, "loki_explain": explain.METRICS},
    asks={"loki_judgment": "judgment", "loki_mc": "choice", "loki_explain": "rubric"},
    statistics={"loki_score": score.statistic},
    group_metrics=("loki_score",),
    hub=HUB,
)
