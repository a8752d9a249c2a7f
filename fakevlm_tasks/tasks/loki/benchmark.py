"""LOKI (ICLR 2025) image annotations: ``true_or_false.json`` and ``open_ended_vqa.json``.

Two prepared datasets come out of one preparation:

* ``loki`` (FakeVLM's protocol): one record per image. Detection covers the images of
  ``true_or_false.json`` (label and category read from ``question_type``); the 229 fake
  images of ``open_ended_vqa.json`` carry the human explanation as reference (global
  description, then each regional description). Open-ended images absent from
  ``true_or_false.json`` are kept for the explanation metrics only (``detection: false``).
* ``loki_judgment`` (LOKI's own protocol): one record per yes/no question.
"""

from __future__ import annotations

import re
from pathlib import Path

from fakevlm_tasks.data.common import FAKECLUE_QUESTION, DataError, PrepareReport, check_image, load_json

_QTYPE = re.compile(r"^image_tf_image_(real|fake)_ask_(real|fake)_(\w+)$")
TF_FILE = "true_or_false.json"
OE_FILE = "open_ended_vqa.json"


def _resolve_image(images: Path, image_path: str) -> Path:
    """LOKI paths read ``media_data/image/<uuid>.jpg``; accept the root above ``media_data`` or the image folder itself."""
    direct = images / image_path
    if direct.exists():
        return direct.resolve()
    flat = images / Path(image_path).name
    return (flat if flat.exists() else direct).resolve()


def _clean_question(q: str) -> str:
    return q.replace("<image>", "").strip()


def explanation_reference(problems) -> str:
    """Join LOKI's human explanation: non-empty global descriptions first, then regional ones."""
    if not isinstance(problems, dict):
        raise DataError("'problems' must be an object with 'global' and 'regional' lists")
    parts = [str(g.get("desc", "")).strip() for g in problems.get("global") or [] if isinstance(g, dict)]
    parts += [str(r.get("desc", "")).strip() for r in problems.get("regional") or [] if isinstance(r, dict)]
    return " ".join(p for p in parts if p)


def _read_tf(path: Path, report: PrepareReport, judgment: PrepareReport, images: Path, check_images: bool) -> dict[str, dict]:
    data = load_json(path, "loki true_or_false")
    if not isinstance(data, list):
        raise DataError(f"loki: {path} must hold a JSON list, found {type(data).__name__}")
    per_image: dict[str, dict] = {}
    bad_images: dict[str, str] = {}
    for i, rec in enumerate(data):
        where = f"{TF_FILE}#{i}"
        if not isinstance(rec, dict) or not all(k in rec for k in ("image_path", "question", "answer", "question_type")):
            judgment.skip(where, "malformed record: needs image_path, question, answer, question_type")
            continue
        m = _QTYPE.match(str(rec["question_type"]))
        answer = str(rec["answer"]).strip().lower()
        if not m or answer not in ("yes", "no"):
            judgment.skip(f"{where} ({rec.get('id')})", f"malformed record: question_type {rec['question_type']!r} / answer {rec['answer']!r}")
            continue
        label, asks, category = m.groups()
        image_path = str(rec["image_path"])
        image = _resolve_image(images, image_path)
        if image_path not in per_image and image_path not in bad_images:
            problem = check_image(image) if check_images else None
            if problem:
                bad_images[image_path] = problem
            else:
                per_image[image_path] = {
                    "id": image_path,
                    "image": str(image),
                    "label": label,
                    "category": category,
                    "question": FAKECLUE_QUESTION,
                    "reference": None,
                    "detection": True,
                }
        if image_path in bad_images:
            judgment.skip(f"{where} ({rec.get('id')})", bad_images[image_path])
            continue
        if per_image[image_path]["label"] != label:
            judgment.skip(f"{where} ({rec.get('id')})", f"malformed record: label {label} contradicts an earlier question on {image_path}")
            continue
        judgment.records.append(
            {
                "id": str(rec.get("id", f"tf{i}")),
                "image": str(image),
                "label": label,
                "category": category,
                "asks": asks,
                "question": _clean_question(str(rec["question"])),
                "answer": answer,
            }
        )
    for image_path, problem in bad_images.items():
        report.skip(f"{TF_FILE} ({image_path})", problem)
    return per_image


def prepare(annotations: str | Path, images: str | Path, *, check_images: bool = True) -> tuple[PrepareReport, PrepareReport]:
    """Return the ``loki`` and ``loki_judgment`` reports from LOKI's annotation folder and media root."""
    annotations, images = Path(annotations), Path(images)
    if not annotations.is_dir():
        raise DataError(f"loki: --annotations {annotations} must be the folder holding {TF_FILE} and {OE_FILE}")
    if not images.is_dir():
        raise DataError(f"loki: --images {images} is not a folder")
    sources = {"annotations": str(annotations.resolve()), "images": str(images.resolve())}
    report = PrepareReport("loki", sources=sources)
    judgment = PrepareReport("loki_judgment", sources=sources)
    per_image = _read_tf(annotations / TF_FILE, report, judgment, images, check_images)

    oe = load_json(annotations / OE_FILE, "loki open_ended_vqa")
    if not isinstance(oe, list):
        raise DataError(f"loki: {annotations / OE_FILE} must hold a JSON list, found {type(oe).__name__}")
    for i, rec in enumerate(oe):
        where = f"{OE_FILE}#{i}"
        try:
            if not isinstance(rec, dict) or "image_path" not in rec:
                raise DataError("needs image_path and problems")
            reference = explanation_reference(rec.get("problems"))
        except DataError as exc:
            report.skip(where, f"malformed record: {exc}")
            continue
        if not reference:
            report.skip(f"{where} ({rec['image_path']})", "no explanation: every description is empty")
            continue
        image_path = str(rec["image_path"])
        if image_path in per_image:
            per_image[image_path]["reference"] = reference
            continue
        image = _resolve_image(images, image_path)
        problem = check_image(image) if check_images else None
        if problem:
            report.skip(f"{where} ({image_path})", problem)
            continue
        per_image[image_path] = {
            "id": image_path,
            "image": str(image),
            "label": "fake",  # every open-ended LOKI image is a generated one
            "category": "open_ended",
            "question": FAKECLUE_QUESTION,
            "reference": reference,
            "detection": False,
        }
    report.records = list(per_image.values())
    return report, judgment


def add_arguments(parser) -> None:
    parser.add_argument("--annotations", required=True, type=Path, help=f"folder with {TF_FILE} and {OE_FILE} (LOKI data_json/image)")
    parser.add_argument("--images", required=True, type=Path, help="LOKI root that contains media_data/ (or the image folder itself)")


def run(args) -> list[PrepareReport]:
    return list(prepare(args.annotations, args.images, check_images=not args.no_image_check))


# ------------------------------------------------------------------ the declaration

from fakevlm_tasks import hooks  # noqa: E402 - the preparer above needs no lmms-eval glue
from fakevlm_tasks.benchmarks import DETECTION_PROMPTS, Benchmark, PaperRows, prompted  # noqa: E402

#: LOKI's categories as its question types spell them ("sence" sic).
CATEGORIES = ("animals", "doc", "medicine", "object", "person", "satellite", "sence")
METRICS = hooks.DETECTION_METRICS + tuple(f"acc_{c}" for c in CATEGORIES)
JUDGMENT_METRICS = hooks.LOKI_JUDGMENT_METRICS + tuple(f"loki_score_{c}" for c in CATEGORIES)

process_docs = hooks.prepared_docs("loki")
judgment_process_docs = hooks.prepared_docs("loki_judgment")
doc_to_text = prompted(DETECTION_PROMPTS)
#: LOKI's own protocol appends this to every yes/no question, for every model.
judgment_doc_to_text = prompted({"fakevlm": " Answer with yes or no.", "general": " Answer with yes or no.", "api": " Answer with yes or no."})
process_results = hooks.detection_results(METRICS)
judgment_process_results = hooks.judgment_results(JUDGMENT_METRICS)


def write_miniature(root: Path) -> list[str]:
    """LOKI's two annotation files for one real and one fake image (two questions each) under ``root``."""
    import json

    from PIL import Image

    media = root / "media_data"
    records = []
    for i, (label, category) in enumerate((("real", "sence"), ("fake", "doc"))):
        image = f"media_data/{category}/{i}.png"
        (root / image).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (200 if label == "real" else 40, 90, 90)).save(root / image)
        for asks, question in (("fake", "Is this image generated by AI?"), ("real", "Is this image taken from the real world?")):
            records.append({"image_path": image, "question": question, "answer": "yes" if asks == label else "no",
                            "question_type": f"image_tf_image_{label}_ask_{asks}_{category}", "id": f"{i}{asks}"})
    ann = root / "data_json"
    ann.mkdir(parents=True, exist_ok=True)
    (ann / TF_FILE).write_text(json.dumps(records), encoding="utf-8")
    (ann / OE_FILE).write_text("[]", encoding="utf-16")
    return ["--annotations", str(ann), "--images", str(media.parent)]


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

BENCHMARK = Benchmark(
    name="loki",
    title="LOKI",
    prepare=run,
    add_arguments=add_arguments,
    prepare_hint="--annotations <dir with true_or_false.json and open_ended_vqa.json> --images <LOKI root containing media_data/>",
    tasks=("loki", "loki_judgment"),
    datasets=("loki", "loki_judgment"),
    headline={"loki": ("acc", "f1", "rouge_l", "css"), "loki_judgment": ("loki_score", "acc")},
    labels={"loki_score": "LOKI score"},
    paper=(
        PaperRows("Table 2", {m: {k: v for k, v in zip(("acc", "f1", "rouge_l", "css"), vals) if v is not None} for m, vals in _TABLE2.items()}),
        PaperRows("Table 8", {"FakeVLM": {f"acc_{c}": v for c, v in _TABLE8.items()}}),
    ),
    variants={"loki": ("jpeg50", "resize50", "blur2", "noise10", "grey", "lowpass", "highpass")},
    write_miniature=write_miniature,
)
