"""FakeClue (``lingcco/FakeClue``): ``data_json/test.json`` + the unzipped image folders.

A record is ``{"image", "label" (1 real, 0 fake), "cate", "conversations": [human, gpt]}``;
the human turn holds the question, the gpt turn the reference answer, which starts with
the verdict and goes on with the explanation.
"""

from __future__ import annotations

from pathlib import Path

from .common import FAKECLUE_QUESTION, DataError, PrepareReport, check_image, load_json

LABELS = {1: "real", 0: "fake"}


def _question(turn_text: str) -> str:
    return turn_text.replace("<image>", "").strip() or FAKECLUE_QUESTION


def parse_record(i: int, rec, images: Path) -> dict:
    """Turn one official record into a task record; raise DataError naming the record."""
    where = f"record {i}"
    if not isinstance(rec, dict):
        raise DataError(f"{where}: expected an object, got {type(rec).__name__}")
    missing = [k for k in ("image", "label", "conversations") if k not in rec]
    if missing:
        raise DataError(f"{where} ({rec.get('image', '?')}): missing field(s) {', '.join(missing)}")
    label = rec["label"]
    if isinstance(label, bool) or label not in LABELS:
        raise DataError(f"{where} ({rec['image']}): label {label!r} is not 0 (fake) or 1 (real)")
    conv = rec["conversations"]
    if not isinstance(conv, list) or len(conv) < 2:
        raise DataError(f"{where} ({rec['image']}): conversations must hold a human and a gpt turn")
    human = next((t for t in conv if isinstance(t, dict) and t.get("from") == "human"), None)
    gpt = next((t for t in conv if isinstance(t, dict) and t.get("from") == "gpt"), None)
    if human is None or gpt is None or not isinstance(gpt.get("value"), str):
        raise DataError(f"{where} ({rec['image']}): conversations must hold a human and a gpt turn with text")
    return {
        "id": str(rec.get("id", rec["image"])),
        "image": str((images / rec["image"]).resolve()),
        "label": LABELS[label],
        "category": str(rec.get("cate") or "unknown"),
        "question": _question(str(human.get("value", ""))),
        "reference": gpt["value"].strip(),
        "source_image": rec["image"],
    }


def prepare(annotations: str | Path, images: str | Path, *, check_images: bool = True) -> PrepareReport:
    """Read FakeClue's ``test.json`` (or ``train.json``) and its image root into a report."""
    annotations, images = Path(annotations), Path(images)
    if not images.is_dir():
        raise DataError(f"fakeclue: --images {images} is not a folder")
    data = load_json(annotations, "fakeclue annotations")
    if not isinstance(data, list):
        raise DataError(f"fakeclue: {annotations} must hold a JSON list of records, found {type(data).__name__}")
    report = PrepareReport("fakeclue", sources={"annotations": str(annotations.resolve()), "images": str(images.resolve())})
    seen: set[str] = set()
    for i, rec in enumerate(data):
        try:
            doc = parse_record(i, rec, images)
        except DataError as exc:
            report.skip(f"{annotations.name}#{i}", f"malformed record: {exc}")
            continue
        if doc["id"] in seen:
            report.skip(f"{annotations.name}#{i}", f"duplicate record: {doc['id']} appears earlier")
            continue
        problem = check_image(Path(doc["image"])) if check_images else None
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
    return [prepare(args.annotations, args.images, check_images=not args.no_image_check)]
