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

from .common import FAKECLUE_QUESTION, DataError, PrepareReport, check_image, load_json

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
