"""FakeClue (``lingcco/FakeClue``): ``data_json/test.json`` + the unzipped image folders.

A record is ``{"image", "label" (1 real, 0 fake), "cate", "conversations": [human, gpt]}``;
the human turn holds the question, the gpt turn the reference answer, which starts with
the verdict and goes on with the explanation.
"""

from __future__ import annotations

from pathlib import Path

from fakevlm_tasks.hooks import FAKECLUE_QUESTION, DataError, ImagePolicy, PrepareReport, load_json

LABELS = {1: "real", 0: "fake"}


def _question(turn_text: str) -> str:
    return turn_text.replace("<image>", "").strip() or FAKECLUE_QUESTION


def parse_record(i: int, rec, images: ImagePolicy) -> dict:
    """Turn one official record into a task record, its image resolved by ``images``; raise
    DataError naming the record."""
    where = f"record {i}"
    if not isinstance(rec, dict):
        raise DataError(f"{where}: expected an object, got {type(rec).__name__}")
    missing = [k for k in ("image", "label", "conversations") if k not in rec]
    if missing:
        raise DataError(f"{where} ({rec.get('image', '?')!r}): missing field(s) {', '.join(missing)}")
    label = rec["label"]
    if isinstance(label, bool) or not isinstance(label, (int, float)) or label not in LABELS:
        raise DataError(f"{where} ({rec['image']!r}): label {label!r} is not 0 (fake) or 1 (real)")
    if not isinstance(rec.get("cate", ""), (str, type(None))) or not isinstance(rec.get("id", ""), (str, int)):
        raise DataError(f"{where} ({rec['image']!r}): 'cate' must be a string and 'id' a string or number")
    try:
        image = images.path(rec["image"])
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
    conv = rec["conversations"]
    if not isinstance(conv, list) or len(conv) < 2:
        raise DataError(f"{where} ({rec['image']}): conversations must hold a human and a gpt turn")
    human = next((t for t in conv if isinstance(t, dict) and t.get("from") == "human"), None)
    gpt = next((t for t in conv if isinstance(t, dict) and t.get("from") == "gpt"), None)
    if human is None or gpt is None or not isinstance(gpt.get("value"), str):
        raise DataError(f"{where} ({rec['image']}): conversations must hold a human and a gpt turn with text")
    return {
        "id": str(rec.get("id", rec["image"])),
        "image": str(image),
        "label": LABELS[label],
        "category": str(rec.get("cate") or "unknown"),
        "question": _question(str(human.get("value", ""))),
        "reference": gpt["value"].strip(),
        "source_image": rec["image"],
    }


def prepare(annotations: str | Path, images: str | Path, *, check_images: bool = True,
            allow_outside_root: bool = False) -> PrepareReport:
    """Read FakeClue's ``test.json`` (or ``train.json``) and its image root into a report; images
    outside that root are skipped unless ``allow_outside_root``."""
    annotations, images = Path(annotations), Path(images)
    if not images.is_dir():
        raise DataError(f"fakeclue: --images {images} is not a folder")
    data = load_json(annotations, "fakeclue annotations")
    if not isinstance(data, list):
        raise DataError(f"fakeclue: {annotations} must hold a JSON list of records, found {type(data).__name__}")
    report = PrepareReport("fakeclue", sources={"annotations": str(annotations.resolve()), "images": str(images.resolve())})
    policy = ImagePolicy(images, allow_outside_root, check_images)
    seen: set[str] = set()
    for i, rec in enumerate(data):
        try:
            doc = parse_record(i, rec, policy)
        except DataError as exc:
            report.skip(f"{annotations.name}#{i}", f"malformed record: {exc}")
            continue
        if doc["id"] in seen:
            report.skip(f"{annotations.name}#{i}", f"duplicate record: {doc['id']} appears earlier")
            continue
        problem = policy.problem(Path(doc["image"]))
        if problem:
            report.skip(f"{annotations.name}#{i} ({doc['source_image']})", problem)
            continue
        seen.add(doc["id"])
        report.records.append(doc)
    return report


def add_arguments(parser) -> None:
    parser.add_argument("--annotations", required=True, type=Path, help="FakeClue data_json/test.json")
    parser.add_argument("--images", required=True, type=Path, help="root the record 'image' paths are relative to")


def run(args) -> list[PrepareReport]:
    return [prepare(args.annotations, args.images, check_images=not args.no_image_check,
                    allow_outside_root=args.allow_outside_root)]


# ------------------------------------------------------------------ the declaration

from fakevlm_tasks import hooks  # noqa: E402 - the preparer above needs no lmms-eval glue
from fakevlm_tasks.hooks import DETECTION_PROMPTS, Benchmark, HubSource, PaperRows, prompted  # noqa: E402

CATEGORIES = ("animal", "deepfake", "doc", "human", "object", "satellite", "scene")
METRICS = hooks.DETECTION_METRICS + hooks.per_group("acc", hooks.agg_acc, CATEGORIES, "accuracy on this category's images")

process_docs = hooks.prepared_docs("fakeclue")
doc_to_text = prompted(DETECTION_PROMPTS)
process_results = hooks.detection_results(METRICS)


def write_miniature(root: Path) -> list[str]:
    """A two-record FakeClue ``test.json`` and its images under ``root``; returns the prepare arguments."""
    import json

    from PIL import Image

    records = []
    for i, (label, cate) in enumerate(((1, "animal"), (0, "doc"))):
        image = f"{cate}/{'real' if label else 'fake'}/{i}.png"
        (root / "images" / image).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (40 + 150 * label, 90, 90)).save(root / "images" / image)
        verdict = "This is a real image." if label else "This is a fake image."
        records.append({"image": image, "label": label, "cate": cate, "width": 8, "height": 8, "conversations": [
            {"from": "human", "value": "<image>" + FAKECLUE_QUESTION}, {"from": "gpt", "value": f"{verdict} The texture is consistent."}]})
    (root / "test.json").write_text(json.dumps(records), encoding="utf-8")
    return ["--annotations", str(root / "test.json"), "--images", str(root / "images")]


def hub_image_paths(annotations: Path) -> list[str]:
    """The image paths a FakeClue JSON names, relative to the folder its archive unzips them into."""
    data = load_json(annotations, "fakeclue annotations")
    return [str(r["image"]) for r in data if isinstance(r, dict) and "image" in r] if isinstance(data, list) else []


def _table2(acc, f1, rouge_l, css):
    return {k: v for k, v in (("acc", acc), ("f1", f1), ("rouge_l", rouge_l), ("css", css)) if v is not None}


BENCHMARK = Benchmark(
    name="fakeclue",
    title="FakeClue",
    prepare=run,
    add_arguments=add_arguments,
    prepare_hint="--annotations <FakeClue>/data_json/test.json --images <unzipped FakeClue test images>",
    tasks=("fakeclue",),
    headline={"fakeclue": ("acc", "f1", "rouge_l", "css")},
    paper=(PaperRows("Table 2", {
        "Deepseek-VL2-small": _table2(40.4, 54.2, 17.1, 50.4),
        "Deepseek-VL2": _table2(47.5, 54.1, 17.2, 50.5),
        "InternVL2-8B": _table2(50.6, 49.0, 18.0, 58.1),
        "InternVL2-40B": _table2(50.7, 46.3, 17.6, 55.2),
        "Qwen2-VL-7B": _table2(45.7, 59.2, 26.6, 56.5),
        "Qwen2-VL-72B": _table2(57.8, 56.5, 17.5, 54.4),
        "GPT-4o (2024-08-06)": _table2(47.4, 42.0, 13.4, 40.7),
        "CNNSpot": _table2(43.1, 9.8, None, None),
        "FreqNet": _table2(48.7, 39.3, None, None),
        "Fatformer": _table2(54.5, 45.1, None, None),
        "UnivFD": _table2(63.1, 46.8, None, None),
        "AIDE (trained on FakeClue)": _table2(85.9, 94.5, None, None),
        "NPR (trained on FakeClue)": _table2(90.2, 91.6, None, None),
        "FakeVLM": _table2(98.6, 98.1, 58.0, 87.7),
    }),),
    variants={"fakeclue": ("jpeg50", "resize50", "blur2", "noise10", "grey", "lowpass", "highpass")},
    write_miniature=write_miniature,
    metrics={"fakeclue": METRICS},
    hub=HubSource(
        repo_id="lingcco/FakeClue",
        annotations={"test": ("data_json/test.json",), "train": ("data_json/train.json",)},
        archives={"test": "test.zip", "train": "train.zip"},  # ~1.3 GB and ~28 GB
        image_paths=hub_image_paths,
    ),
)
